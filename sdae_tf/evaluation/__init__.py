"""Measuring a trained model: the linear probe, unsupervised metrics (k-means, PSNR), sampling,
figures and plots."""
