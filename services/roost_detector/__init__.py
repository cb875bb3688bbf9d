"""roost's detector service: motion and object detection on the camera service's frames,
with tracked objects reported as Frigate-shaped events and per-camera state."""
