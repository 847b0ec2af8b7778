"""The runtime every computesat process stands on: clock, bus, service supervisor,
device-port client and settings. It imports the ICD only; hwsim, flightsw and ground stand on
it, and the app (``computesat``: CLI and launcher) stands on all of them."""
