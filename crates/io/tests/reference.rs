//! reference_positions.parquet: round trip and clear errors.

mod common;

use astrosolve_io::{read_reference_positions, write_reference_positions};
use astrosolve_model::source::ReferencePosition;
use astrosolve_model::units::MAS;
use common::*;

#[test]
fn reference_positions_round_trip_and_errors() {
    let mut rng = Rng::new(5);
    let sources = sources(&mut rng, 20);
    let refs: Vec<ReferencePosition> = [3usize, 7, 19]
        .iter()
        .map(|&i| ReferencePosition {
            source_index: i,
            ra: sources[i].params.ra,
            dec: sources[i].params.dec,
            sigma: 0.2 * MAS,
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reference_positions.parquet");
    write_reference_positions(&path, &refs, &sources, false).unwrap();
    let back = read_reference_positions(&path, &sources).unwrap();
    assert_eq!(back.len(), 3);
    for (a, b) in refs.iter().zip(&back) {
        assert_eq!(a.source_index, b.source_index);
        assert!(close(a.ra, b.ra, 4) && close(a.dec, b.dec, 4) && close(a.sigma, b.sigma, 4));
    }
    // no silent overwrite
    let e = write_reference_positions(&path, &refs, &sources, false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("reference_positions.parquet"), "{e}");
    // a source_id the catalogue does not have: file, row and column named
    let e = read_reference_positions(&path, &sources[..10])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("reference_positions.parquet") && e.contains("row 3") && e.contains("source_id"),
        "{e}"
    );
}
