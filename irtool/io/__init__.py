"""Reading and writing image files: `irtool.io.images` (pixels) and `irtool.io.metadata` (EXIF, ICC, orientation).

Nothing is re-exported here so that importing `irtool.io` stays free of OpenCV until a file is actually read.
"""
