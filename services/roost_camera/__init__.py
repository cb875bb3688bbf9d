"""roost's camera service: capture from a Pi camera, an OpenCV source or a synthetic one;
a retained JPEG snapshot; JPEG and h264 writers; a shared-memory frame ring for detectors;
a mover, a deleter and an uploader for the files it writes."""
