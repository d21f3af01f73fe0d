//! Gaia DR4 epoch astrometry → [`SourceData`], streamed source by source (format: Gaia DR4
//! archive datamodel `epoch_astrometry`, and gaia-supdate `epoch_astrometry.py`, whose
//! conventions it follows).
//!
//! One table row per field-of-view transit; array columns hold the 10 CCD values (index 0 = sky
//! mapper, 1–9 = AF1–AF9); per-transit values (`obs_time_bary_corr`, `parallax_factor_al`, a
//! scalar `colour_factor_al`) apply to every CCD of the row. Archive snake_case and CU9
//! camelCase names are both accepted. For CCD k of a transit:
//!
//! - t = ((2010.0 + tcb_k·F) + bary·F) − 2017.5 Julian years from J2017.5 (TCB), F = 10⁻⁹/31 557 600
//!   yr/ns, in that order of operations (gaia-supdate `set_relative_time`; tcb is int64 ns since
//!   2010-01-01T00:00:00 TCB, whose Julian year is exactly 2010.0);
//! - w = centroid_pos_al (mas), σ = centroid_pos_error_al (mas);
//! - ∂w/∂α* = sin θ, ∂w/∂δ = cos θ, θ = scan_pos_angle (deg), ∂w/∂μ = t ∂w/∂(α*, δ),
//!   ∂w/∂ϖ = parallax_factor_al, ∂w/∂Δν = −10³ colour_factor_al (mas nm; gaia-supdate `supdate`);
//! - used = used_by_agis_al (a null flag: not used); excess noise ε = agis_source_excess_noise
//!   (mas, the first row's finite value); the pseudo-colour prior is gaia-supdate's
//!   (mean 0 relative to nu_eff_used_in_astrometry, σ = 0.085·10⁻³ nm⁻¹, [`DR4_COLOUR_PRIOR`]).
//!
//! Bad data: a used CCD with a null time, a NaN/null abscissa, σ ≤ 0, angle, parallax factor or
//! barycentric correction, or a row whose arrays have different lengths, makes its source fail
//! with [`EpochError::Data`] naming file, 1-based row and column; the other sources go on. An
//! unused CCD with missing values is left out (it has no residual); one with all values is kept,
//! with `used = false`, so that its residual is reported. (gaia-supdate silently drops used CCDs
//! with a null time, barycentric correction or scan angle; here they are reported.)
//!
//! Streaming: the rows of a source must be contiguous (as in the DR4 files); the stream yields a
//! source when its rows end, across chunk boundaries, holding one chunk and one source at a time
//! plus the set of finished source ids (8 bytes each). A source whose rows reappear after other
//! sources is an error for that second group (the first group was already yielded): sort such
//! files by source_id first. A table already in memory (columns handed over by the Python
//! bindings) streams the same way ([`GaiaSourceStream::from_table`]).

use crate::{EpochError, EpochObs, SourceData};
use astrosolve_io::tabular::{
    open_table, Column, ColumnData, ListColumn, Table, TableFormat, TableReader, Unit,
};
use std::collections::{HashSet, VecDeque};
use std::path::{Path, PathBuf};

/// gaia-supdate's Gaussian prior on the pseudo-colour offset Δν: (mean, σ) in nm⁻¹
/// (`compute_source_parameters`: `prior_strength_nm = 0.085e-3`, added to the normal matrix's
/// diagonal only, i.e. mean 0 about the ν_eff used in the astrometry).
pub const DR4_COLOUR_PRIOR: (f64, f64) = (0.0, 0.085e-3);

/// Julian year of the TCB time origin of `obs_time_tcb` (2010-01-01T00:00:00 TCB).
pub const TCB_ORIGIN_JYEAR: f64 = 2010.0;
/// The DR4 reference epoch (Julian year, TCB).
pub const DR4_EPOCH_JYEAR: f64 = 2017.5;
/// Julian years per nanosecond (astropy `u.nanosecond.to(u.year)` = 1e-9 / 31557600).
pub const YEARS_PER_NS: f64 = 1e-9 / 31_557_600.0;

/// Time of a DR4 CCD observation in Julian years from J2017.5 (TCB).
/// Given: `tcb_ns` obs_time_tcb (ns since 2010.0 TCB), `bary_ns` obs_time_bary_corr (ns).
/// Returned: t (yr), with gaia-supdate's order of operations.
#[inline]
pub fn dr4_time(tcb_ns: i64, bary_ns: f64) -> f64 {
    TCB_ORIGIN_JYEAR + tcb_ns as f64 * YEARS_PER_NS + bary_ns * YEARS_PER_NS - DR4_EPOCH_JYEAR
}

/// Accepted names of each column (archive snake_case first, then CU9 camelCase).
pub mod names {
    pub const SOURCE_ID: &[&str] = &["source_id", "sourceId"];
    pub const TIME: &[&str] = &["obs_time_tcb", "obsTimeTcb"];
    pub const BARY: &[&str] = &["obs_time_bary_corr", "obsTimeBaryCorr"];
    pub const CENTROID: &[&str] = &["centroid_pos_al", "centroidPosAl"];
    pub const CENTROID_ERROR: &[&str] = &["centroid_pos_error_al", "centroidPosErrorAl"];
    pub const SCAN_ANGLE: &[&str] = &["scan_pos_angle", "scanPosAngle"];
    pub const PARALLAX_FACTOR: &[&str] = &["parallax_factor_al", "parallaxFactorAl"];
    pub const COLOUR_FACTOR: &[&str] = &["colour_factor_al", "colourFactorAl"];
    pub const USED: &[&str] = &["used_by_agis_al", "usedByAgisAl"];
    pub const EXCESS_NOISE: &[&str] = &["agis_source_excess_noise", "agisSourceExcessNoise"];
}

/// True if a file's columns look like Gaia epoch astrometry (for format detection).
pub fn looks_like_gaia(column_names: &[String]) -> bool {
    let has = |ns: &[&str]| {
        column_names
            .iter()
            .any(|c| ns.iter().any(|n| c.trim().eq_ignore_ascii_case(n)))
    };
    has(names::SOURCE_ID) && has(names::CENTROID) && has(names::SCAN_ANGLE)
}

/// Rows read per chunk by default.
pub const DEFAULT_CHUNK_ROWS: usize = 4096;

/// The columns of one chunk, typed.
struct Cols {
    id: Vec<Option<i64>>,
    time: ListColumn<Option<i64>>,
    bary: ListColumn<f64>,
    w: ListColumn<f64>,
    sigma: ListColumn<f64>,
    angle: ListColumn<f64>,
    plx: ListColumn<f64>,
    colour: Option<ListColumn<f64>>,
    used: ListColumn<Option<bool>>,
    excess: Option<Vec<f64>>,
    /// Names as found in the file, for messages.
    n_time: String,
    n_bary: String,
    n_w: String,
    n_sigma: String,
    n_angle: String,
    n_plx: String,
    n_colour: String,
    n_used: String,
}

fn col_name(t: &Table, ns: &[&str]) -> String {
    t.find(ns)
        .map_or_else(|| ns[0].to_string(), |c| c.name.clone())
}

fn check_time_unit(t: &Table, ns: &[&str]) -> Result<(), EpochError> {
    if let Some(c) = t.find(ns) {
        if let Some(u) = c.unit.as_deref() {
            let u = u.trim().to_ascii_lowercase();
            if !u.is_empty() && !matches!(u.as_str(), "ns" | "nanosecond" | "nanoseconds") {
                return Err(EpochError::File {
                    path: t.path.clone(),
                    message: format!(
                        "column \"{}\" has unit \"{u}\", expected ns (nanoseconds since 2010.0 TCB)",
                        c.name
                    ),
                });
            }
        }
    }
    Ok(())
}

impl Cols {
    fn read(t: &Table) -> Result<Cols, EpochError> {
        check_time_unit(t, names::TIME)?;
        let colour = match t.find(names::COLOUR_FACTOR) {
            Some(_) => Some(t.f64_lists(names::COLOUR_FACTOR, Unit::Any)?),
            None => None,
        };
        let excess = match t.find(names::EXCESS_NOISE) {
            Some(_) => Some(t.f64_column(names::EXCESS_NOISE, Unit::Mas)?),
            None => None,
        };
        Ok(Cols {
            id: t.i64_column(names::SOURCE_ID)?,
            time: t.i64_lists(names::TIME)?,
            bary: t.f64_lists(names::BARY, Unit::Ns)?,
            w: t.f64_lists(names::CENTROID, Unit::Mas)?,
            sigma: t.f64_lists(names::CENTROID_ERROR, Unit::Mas)?,
            angle: t.f64_lists(names::SCAN_ANGLE, Unit::Deg)?,
            plx: t.f64_lists(names::PARALLAX_FACTOR, Unit::Any)?,
            colour,
            used: t.bool_lists(names::USED)?,
            excess,
            n_time: col_name(t, names::TIME),
            n_bary: col_name(t, names::BARY),
            n_w: col_name(t, names::CENTROID),
            n_sigma: col_name(t, names::CENTROID_ERROR),
            n_angle: col_name(t, names::SCAN_ANGLE),
            n_plx: col_name(t, names::PARALLAX_FACTOR),
            n_colour: col_name(t, names::COLOUR_FACTOR),
            n_used: col_name(t, names::USED),
        })
    }
}

/// A per-CCD value of a column that may be per transit (one value) or per CCD (`n` values);
/// an empty (null) list is all-NaN.
fn per_ccd(l: &[f64], k: usize, n: usize) -> Option<f64> {
    match l.len() {
        0 => Some(f64::NAN),
        1 => Some(l[0]),
        m if m == n => Some(l[k]),
        _ => None,
    }
}

/// The source being assembled from its rows.
struct Acc {
    id: i64,
    obs: Vec<EpochObs>,
    excess: Option<f64>,
    err: Option<EpochError>,
    n_transits: u32,
}

impl Acc {
    fn new(id: i64) -> Acc {
        Acc {
            id,
            obs: Vec::new(),
            excess: None,
            err: None,
            n_transits: 0,
        }
    }

    fn finish(self) -> Result<SourceData, EpochError> {
        match self.err {
            Some(e) => Err(e),
            None => Ok(SourceData {
                id: self.id,
                obs: self.obs,
                pairs: Vec::new(),
                excess_noise: self.excess,
                colour_prior: Some(DR4_COLOUR_PRIOR),
            }),
        }
    }

    /// Adds the CCDs of row `i` of the chunk (file row `row`).
    fn add_row(&mut self, c: &Cols, i: usize, path: &Path, row: usize) {
        if self.err.is_some() {
            return;
        }
        if let Err(e) = self.try_add_row(c, i, path, row) {
            self.err = Some(e);
        }
    }

    fn try_add_row(
        &mut self,
        c: &Cols,
        i: usize,
        path: &Path,
        row: usize,
    ) -> Result<(), EpochError> {
        let bad = |column: &str, message: String| EpochError::Data {
            path: path.to_path_buf(),
            row,
            column: column.to_string(),
            source_id: self.id,
            message,
        };
        let time = c.time.row(i);
        let n = time.len();
        let transit = self.n_transits;
        self.n_transits += 1;
        if self.excess.is_none() {
            if let Some(e) = c.excess.as_ref().map(|v| v[i]).filter(|e| e.is_finite()) {
                self.excess = Some(e);
            }
        }
        if n == 0 {
            return Ok(()); // a null transit: nothing observed
        }
        let (w, sigma, angle, used) = (c.w.row(i), c.sigma.row(i), c.angle.row(i), c.used.row(i));
        for (name, len) in [
            (&c.n_w, w.len()),
            (&c.n_sigma, sigma.len()),
            (&c.n_angle, angle.len()),
            (&c.n_used, used.len()),
        ] {
            if len != 0 && len != n {
                return Err(bad(
                    name,
                    format!("array of {len} values where \"{}\" has {n}", c.n_time),
                ));
            }
        }
        let lists = [
            (&c.n_bary, c.bary.row(i)),
            (&c.n_plx, c.plx.row(i)),
            (&c.n_colour, c.colour.as_ref().map_or(&[][..], |l| l.row(i))),
        ];
        for (name, l) in lists {
            if l.len() > 1 && l.len() != n {
                return Err(bad(
                    name,
                    format!("array of {} values where \"{}\" has {n}", l.len(), c.n_time),
                ));
            }
        }
        let get = |l: &[f64], k: usize| if l.is_empty() { f64::NAN } else { l[k] };
        for k in 0..n {
            let is_used = used.get(k).copied().flatten().unwrap_or(false);
            let tk = time[k];
            let wk = get(w, k);
            let sk = get(sigma, k);
            let ak = get(angle, k);
            let bk = per_ccd(c.bary.row(i), k, n).unwrap_or(f64::NAN);
            let pk = per_ccd(c.plx.row(i), k, n).unwrap_or(f64::NAN);
            let ck = match &c.colour {
                Some(l) => per_ccd(l.row(i), k, n).unwrap_or(f64::NAN),
                None => f64::NAN,
            };
            if is_used {
                let which = if tk.is_none() {
                    Some((&c.n_time, "null time".to_string()))
                } else if !wk.is_finite() {
                    Some((
                        &c.n_w,
                        format!("CCD {k}: abscissa {wk} of a used observation"),
                    ))
                } else if !(sk > 0.0 && sk.is_finite()) {
                    Some((
                        &c.n_sigma,
                        format!("CCD {k}: σ = {sk} of a used observation"),
                    ))
                } else if !ak.is_finite() {
                    Some((
                        &c.n_angle,
                        format!("CCD {k}: scan angle {ak} of a used observation"),
                    ))
                } else if !bk.is_finite() {
                    Some((&c.n_bary, format!("CCD {k}: barycentric correction {bk}")))
                } else if !pk.is_finite() {
                    Some((&c.n_plx, format!("CCD {k}: parallax factor {pk}")))
                } else {
                    None
                };
                if let Some((col, msg)) = which {
                    let msg = if msg == "null time" {
                        format!("CCD {k}: null time of a used observation")
                    } else {
                        msg
                    };
                    return Err(bad(col, msg));
                }
            }
            let Some(tk) = tk else { continue };
            let complete = wk.is_finite()
                && sk > 0.0
                && sk.is_finite()
                && ak.is_finite()
                && bk.is_finite()
                && pk.is_finite();
            if !is_used && !complete {
                continue; // an unused CCD without the values of a residual
            }
            let t = dr4_time(tk, bk);
            let (s, co) = ak.to_radians().sin_cos();
            self.obs.push(EpochObs {
                t,
                a_alpha: s,
                a_delta: co,
                a_parallax: pk,
                a_pmra: s * t,
                a_pmdec: co * t,
                a_colour: -1e3 * ck,
                w: wk,
                sigma: sk,
                used: is_used,
                transit,
            });
        }
        Ok(())
    }
}

/// Rows `start..end` of a chunk as a table of their own (to read a chunk row by row when one of
/// its cells cannot be parsed).
fn slice_table(t: &Table, start: usize, end: usize) -> Table {
    fn list<T: Clone>(l: &ListColumn<T>, a: usize, b: usize) -> ListColumn<T> {
        ListColumn::from_rows((a..b).map(|i| l.row(i).to_vec()))
    }
    let columns = t
        .columns
        .iter()
        .map(|c| Column {
            name: c.name.clone(),
            unit: c.unit.clone(),
            data: match &c.data {
                ColumnData::Float(v) => ColumnData::Float(v[start..end].to_vec()),
                ColumnData::Int(v) => ColumnData::Int(v[start..end].to_vec()),
                ColumnData::Bool(v) => ColumnData::Bool(v[start..end].to_vec()),
                ColumnData::Text(v) => ColumnData::Text(v[start..end].to_vec()),
                ColumnData::FloatList(l) => ColumnData::FloatList(list(l, start, end)),
                ColumnData::IntList(l) => ColumnData::IntList(list(l, start, end)),
                ColumnData::BoolList(l) => ColumnData::BoolList(list(l, start, end)),
            },
        })
        .collect();
    Table {
        path: t.path.clone(),
        format: t.format,
        first_row: t.first_row + start,
        columns,
    }
}

/// A table in memory as a [`TableReader`]: its rows in chunks of at most `max_rows` (the
/// whole table, moved, when it fits in one).
struct MemoryTable {
    names: Vec<String>,
    units: Vec<Option<String>>,
    table: Option<Table>,
    /// Rows already handed out.
    pos: usize,
}

impl TableReader for MemoryTable {
    fn column_names(&self) -> &[String] {
        &self.names
    }

    fn next_chunk(&mut self, max_rows: usize) -> Result<Option<Table>, astrosolve_io::IoError> {
        let Some(t) = self.table.as_ref() else {
            return Ok(None);
        };
        let n = t.n_rows();
        let end = n.min(self.pos + max_rows.max(1));
        if self.pos >= n {
            self.table = None;
            return Ok(None);
        }
        if self.pos == 0 && end == n {
            self.pos = n;
            return Ok(self.table.take());
        }
        let chunk = slice_table(t, self.pos, end);
        self.pos = end;
        Ok(Some(chunk))
    }

    fn column_units(&self) -> Vec<Option<String>> {
        self.units.clone()
    }
}

/// Streams the sources of one Gaia epoch-astrometry file, one [`SourceData`] at a time.
/// Items: `Ok(source)`, or `Err` for a source that was skipped (bad data; the stream goes on) or
/// for a file that cannot be read further (the stream then ends).
pub struct GaiaSourceStream {
    path: PathBuf,
    reader: Box<dyn TableReader>,
    chunk_rows: usize,
    acc: Option<Acc>,
    seen: HashSet<i64>,
    out: VecDeque<Result<SourceData, EpochError>>,
    done: bool,
}

impl GaiaSourceStream {
    /// Opens a file (format detected: CSV, ECSV, FITS, VOTable, Parquet).
    pub fn open(path: &Path) -> Result<GaiaSourceStream, EpochError> {
        Self::open_as(path, None)
    }

    /// Opens a file in a given table format (None: detect).
    pub fn open_as(
        path: &Path,
        format: Option<TableFormat>,
    ) -> Result<GaiaSourceStream, EpochError> {
        let reader = open_table(path, format)?;
        Self::with_reader(path, reader, DEFAULT_CHUNK_ROWS)
    }

    /// Streams the sources of a table already in memory (columns handed over by the Python
    /// bindings, say), exactly as if it had been read from a file; `table.path` names it in
    /// messages and `table.first_row` numbers its rows. Refused when its columns differ in
    /// length.
    pub fn from_table(table: Table) -> Result<GaiaSourceStream, EpochError> {
        let n = table.n_rows();
        if let Some(c) = table.columns.iter().find(|c| c.data.len() != n) {
            return Err(EpochError::File {
                path: table.path.clone(),
                message: format!(
                    "column \"{}\" has {} rows where \"{}\" has {n}",
                    c.name,
                    c.data.len(),
                    table.columns[0].name
                ),
            });
        }
        let path = table.path.clone();
        let reader = MemoryTable {
            names: table.columns.iter().map(|c| c.name.clone()).collect(),
            units: table.columns.iter().map(|c| c.unit.clone()).collect(),
            table: Some(table),
            pos: 0,
        };
        // one chunk: the table is in memory already
        Self::with_reader(&path, Box::new(reader), n.max(1))
    }

    fn with_reader(
        path: &Path,
        reader: Box<dyn TableReader>,
        chunk_rows: usize,
    ) -> Result<GaiaSourceStream, EpochError> {
        if !looks_like_gaia(reader.column_names()) {
            return Err(EpochError::File {
                path: path.to_path_buf(),
                message: format!(
                    "not Gaia epoch astrometry: needs columns source_id, centroid_pos_al, \
                     scan_pos_angle, … (columns present: {})",
                    reader.column_names().join(", ")
                ),
            });
        }
        Ok(GaiaSourceStream {
            path: path.to_path_buf(),
            reader,
            chunk_rows,
            acc: None,
            seen: HashSet::new(),
            out: VecDeque::new(),
            done: false,
        })
    }

    /// Rows per chunk read from the file (memory bound; default [`DEFAULT_CHUNK_ROWS`]).
    pub fn with_chunk_rows(mut self, n: usize) -> Self {
        self.chunk_rows = n.max(1);
        self
    }

    /// The file read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn finish_acc(&mut self) {
        if let Some(a) = self.acc.take() {
            self.seen.insert(a.id);
            self.out.push_back(a.finish());
        }
    }

    /// Processes one chunk: typed columns, or, when a cell of it cannot be parsed, row by row.
    fn process(&mut self, t: &Table) -> Result<(), EpochError> {
        match Cols::read(t) {
            Ok(c) => {
                for i in 0..c.id.len() {
                    self.row(&c, i, t.first_row + i);
                }
                Ok(())
            }
            Err(e) if !matches!(e, EpochError::Io(astrosolve_io::IoError::Value { .. })) => {
                Err(e) // missing column, wrong type, bad unit: the same for every row
            }
            Err(_) if t.n_rows() > 1 => {
                for i in 0..t.n_rows() {
                    let one = slice_table(t, i, i + 1);
                    self.process(&one)?;
                }
                Ok(())
            }
            Err(e) => {
                // one row that cannot be read: attribute it to its source if the id reads
                let id = t.i64_column(names::SOURCE_ID).ok().and_then(|v| v[0]);
                match id {
                    Some(id) => {
                        self.switch_to(id, t.first_row);
                        if let Some(a) = self.acc.as_mut() {
                            if a.err.is_none() {
                                a.err = Some(as_source_error(e, id));
                            }
                        }
                    }
                    None => {
                        self.finish_acc();
                        self.out.push_back(Err(e));
                    }
                }
                Ok(())
            }
        }
    }

    /// Makes `id` the source being assembled (finishing the previous one).
    fn switch_to(&mut self, id: i64, row: usize) {
        if self.acc.as_ref().is_some_and(|a| a.id == id) {
            return;
        }
        self.finish_acc();
        let mut a = Acc::new(id);
        if self.seen.contains(&id) {
            a.err = Some(EpochError::Data {
                path: self.path.clone(),
                row,
                column: names::SOURCE_ID[0].to_string(),
                source_id: id,
                message: "rows of this source reappear after other sources (rows of a source \
                          must be contiguous: sort the file by source_id)"
                    .into(),
            });
        }
        self.acc = Some(a);
    }

    fn row(&mut self, c: &Cols, i: usize, row: usize) {
        let Some(id) = c.id[i] else {
            self.finish_acc();
            self.out.push_back(Err(EpochError::Row {
                path: self.path.clone(),
                row,
                column: names::SOURCE_ID[0].to_string(),
                message: "null source_id".into(),
            }));
            return;
        };
        self.switch_to(id, row);
        let path = self.path.clone();
        if let Some(a) = self.acc.as_mut() {
            a.add_row(c, i, &path, row);
        }
    }
}

/// A cell error of a source's row as that source's error.
fn as_source_error(e: EpochError, id: i64) -> EpochError {
    match e {
        EpochError::Io(astrosolve_io::IoError::Value {
            path,
            row,
            column,
            message,
        }) => EpochError::Data {
            path,
            row,
            column,
            source_id: id,
            message,
        },
        other => other,
    }
}

impl Iterator for GaiaSourceStream {
    type Item = Result<SourceData, EpochError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(x) = self.out.pop_front() {
                return Some(x);
            }
            if self.done {
                return None;
            }
            match self.reader.next_chunk(self.chunk_rows) {
                Ok(Some(t)) => {
                    if let Err(e) = self.process(&t) {
                        self.done = true;
                        self.acc = None;
                        self.out.push_back(Err(e));
                    }
                }
                Ok(None) => {
                    self.done = true;
                    self.finish_acc();
                }
                Err(e) => {
                    self.done = true;
                    self.acc = None;
                    self.out.push_back(Err(e.into()));
                }
            }
        }
    }
}

/// Reads every source of a file: the sources read and the errors of those skipped (a file-level
/// error is returned as `Err`).
pub fn read_gaia_sources(path: &Path) -> Result<(Vec<SourceData>, Vec<EpochError>), EpochError> {
    let stream = GaiaSourceStream::open(path)?;
    let mut sources = Vec::new();
    let mut errors = Vec::new();
    for item in stream {
        match item {
            Ok(s) => sources.push(s),
            Err(e @ (EpochError::Io(_) | EpochError::File { .. })) => return Err(e),
            Err(e) => errors.push(e),
        }
    }
    Ok((sources, errors))
}
