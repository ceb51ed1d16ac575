"""Full-integer quantization under control: calibrate once, then quantize with chosen layers
kept in float, measure each layer's quantization error, and search for the fewest float layers
that meet an accuracy target."""
