//! Sealed Secrets crypto and types.
