"""Exports: the SavedModel + `.keras` + manifest writer, the loaders (`feature_extractor`,
`denoiser`), where shipped models live."""
