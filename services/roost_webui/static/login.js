// The server never sees the part after '#', so the page a person was going to (#/devices)
// rides along in the form and they land there after logging in.
const next = document.querySelector('input[name="next"]');
if (next && next.value === "/" && location.hash.startsWith("#/")) next.value = "/" + location.hash;
