"""Tests of the video saliency datasets, transforms and tools."""
