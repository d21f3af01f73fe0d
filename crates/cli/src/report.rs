//! report.json: defined in `astrosolve_scanning::run` (written by `run::write_solution`, shared
//! with the Python bindings); nothing is left here.
