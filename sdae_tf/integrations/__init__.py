"""Other libraries' interfaces: scikit-learn (`SDAETransformer`) and keras-tuner searches."""
