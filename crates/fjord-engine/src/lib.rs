//! fjord engine.
