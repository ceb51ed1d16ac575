"""The TensorFlow side: the quiet import, the GraphDef bridge, private APIs in one place."""
