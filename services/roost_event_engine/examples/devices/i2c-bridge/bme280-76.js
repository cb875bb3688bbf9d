// The greenhouse fan (PCA9685 channel 0) follows the BME280's temperature.
//
// Below `fan_start` the fan is off, from `fan_full` up it runs at 100 %, and in between
// the duty rises in 5 % steps. A degree of hysteresis keeps it from flapping around
// `fan_start`. The settings are dials on the virtual device `climate` (see climate.js):
// change them from Home Assistant, the web UI or `roost set climate fan_start=25`.

var FAN = "i2c-bridge/pca9685-40";
var HYSTERESIS = 1.0;

function settings() {
  var s = { auto: true, start: 24, full: 30 };
  try {
    var climate = home.device("climate");
    if (climate.values.auto !== null) s.auto = climate.values.auto;
    if (climate.values.fan_start !== null) s.start = climate.values.fan_start;
    if (climate.values.fan_full !== null) s.full = climate.values.fan_full;
  } catch (e) {
    // no `climate` device configured: the defaults above
  }
  return s;
}

function dutyFor(temperature, s, running) {
  var start = running ? s.start - HYSTERESIS : s.start;
  if (temperature < start) return 0;
  if (temperature >= s.full) return 100;
  var share = (temperature - s.start) / Math.max(s.full - s.start, 0.1);
  return Math.min(100, Math.max(5, Math.round((share * 100) / 5) * 5));
}

function temperature_onchange(ev) {
  var s = settings();
  if (!s.auto || typeof ev.value !== "number") return;
  var fan;
  try {
    fan = home.device(FAN);
  } catch (e) {
    return; // the i2c bridge is not running (yet)
  }
  var now = fan.latest("ch0_duty");
  var duty = dutyFor(ev.value, s, now > 0);
  if (now !== duty) {
    home.set(FAN, { ch0_duty: duty });
    home.log("temperature", ev.value, "°C: fan", now, "→", duty, "%");
  }
}
