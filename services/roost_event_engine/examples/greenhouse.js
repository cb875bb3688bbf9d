// A home script: runs once at start and every hour, logging the greenhouse climate
// (see `roost scripts log`).

function onstart() {
  home.schedule("0 * * * *", "hourly");
  report();
}

function hourly(ev) {
  report();
}

function report() {
  try {
    var air = home.device("bme280-76");
    home.log("greenhouse:", air.values.temperature, "°C,", air.values.humidity, "% RH");
  } catch (e) {
    home.log("greenhouse: no BME280 yet");
  }
}
