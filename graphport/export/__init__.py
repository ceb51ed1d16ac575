"""Writing SavedModels: the TensorFlow function that serves a prepared graph, saved and loaded."""
