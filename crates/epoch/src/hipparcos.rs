//! Hipparcos IAD → SourceData (written by the Hipparcos helper)
