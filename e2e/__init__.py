"""The local test bed: control plane, traffic simulator, end-to-end scenarios."""
