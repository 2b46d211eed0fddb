//! Native kustomize renderer.
