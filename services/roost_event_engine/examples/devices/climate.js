// The virtual device `climate` (event-engine/climate) holds the fan's settings.
// Its commands pass through here before they take effect; a new setting steers the fan
// from the next temperature reading on (the BME280 reports every few seconds).

// Refuse a start temperature at or above the full-speed temperature.
function fan_start_ontrigger(ev) {
  var full = home.device(ev.device).values.fan_full;
  if (full !== null && ev.value >= full) {
    home.log("refusing fan_start", ev.value, "— it must stay below fan_full", full);
    return false;
  }
}

function fan_full_ontrigger(ev) {
  var start = home.device(ev.device).values.fan_start;
  if (start !== null && ev.value <= start) return false;
}

// Switching automatic control off stops the fan; switching it on lets the next
// temperature reading decide.
function auto_onchange(ev) {
  if (ev.value === false) {
    try {
      home.set("i2c-bridge/pca9685-40", { ch0_duty: 0 });
    } catch (e) {
      home.log("no fan to stop:", e.message);
    }
  }
}
