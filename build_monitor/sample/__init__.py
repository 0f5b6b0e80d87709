"""The generated sample Rust service, its offline base image, and the demo."""
