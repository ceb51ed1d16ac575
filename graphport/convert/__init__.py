"""TFLite conversion: the source, the converter per mode, calibration data, the op report."""
