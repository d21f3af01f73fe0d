//! Checkpoints of the outer iterations ([`crate::outer`]): everything the Gauss–Newton loop
//! carries from one outer iteration to the next, as bytes that restore every f64 bit, so that
//! a solve resumed from the checkpoint of outer iteration k ends bit-for-bit where the
//! uninterrupted solve ends (format of astrosolve; docs/solvers.md, "Checkpoint and resume").
//!
//! Layout (all integers little-endian):
//!
//! ```text
//!   magic "ASTROCKP" (8) | format version u32 | data fingerprint u64 | configuration
//!   fingerprint u64 | outer iterations done u64 | payload length u64 | payload |
//!   checksum u64 (of everything before it)
//! ```
//!
//! The payload is the checkpoint through serde in a compact binary encoding of this module:
//! f64 as its 8 raw bytes, integers as u64/i64, sequences and strings with a u64 length, a
//! struct as its number of fields and (field key, value) pairs (a key's name is written once,
//! later as its number), enum variants by index. The robust weights are not stored: they are
//! recomputed from the state at every linearisation. The core writes no files: the caller
//! stores the bytes (atomically) and reads them back.

use crate::config::SolverConfig;
use crate::outer::{OuterRecord, Redundancy};
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};
use serde::ser::{self, Serialize};
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::path::Path;

/// First bytes of a checkpoint.
pub const MAGIC: [u8; 8] = *b"ASTROCKP";
/// Version of the layout and payload; a checkpoint of another version is refused.
pub const FORMAT_VERSION: u32 = 1;
/// Bytes before the payload.
const HEADER_LEN: usize = 8 + 4 + 8 + 8 + 8 + 8;

/// The state of the outer loop after an outer iteration, borrowed from the loop (written).
#[derive(serde::Serialize)]
pub struct CheckpointRef<'a, S> {
    /// Outer iterations done: the loop goes on with outer iteration `outer_iterations + 1`.
    pub outer_iterations: usize,
    /// The instrument's parameters after the last update and frame fix.
    pub state: &'a S,
    /// One record per outer iteration done.
    pub history: &'a [OuterRecord],
    /// The forcing term's memory: largest updates (rad) and the last inner tolerance.
    pub forcing_updates: &'a [f64],
    pub forcing_last: Option<f64>,
    /// The updates fell below the robust start: weights are robust from now on.
    pub settled: bool,
    /// Outer iterations done with robust weights.
    pub robust_iterations: usize,
    /// The redundancy report of the first linearisation.
    pub redundancy: &'a Redundancy,
}

/// A checkpoint read back (owned twin of [`CheckpointRef`], the same encoding).
#[derive(Clone, Debug, Deserialize)]
pub struct Checkpoint<S> {
    pub outer_iterations: usize,
    pub state: S,
    pub history: Vec<OuterRecord>,
    pub forcing_updates: Vec<f64>,
    pub forcing_last: Option<f64>,
    pub settled: bool,
    pub robust_iterations: usize,
    pub redundancy: Redundancy,
}

/// What a checkpoint must have been computed from: the input data and the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    /// Hash of the input data (e.g. [`fingerprint_files`]).
    pub data: u64,
    /// Hash of the settings that change the numbers ([`config_fingerprint`]).
    pub config: u64,
}

/// Why a checkpoint was refused (the caller names the file).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CheckpointError {
    #[error("is not an astrosolve checkpoint (it does not start with {:?})", String::from_utf8_lossy(&MAGIC))]
    NotCheckpoint,
    #[error("has format version {found}, this astrosolve reads version {FORMAT_VERSION}")]
    Version { found: u32 },
    #[error("is truncated: {len} bytes where its header announces {expected}")]
    Truncated { len: usize, expected: usize },
    #[error("is corrupt: its checksum does not match its content")]
    Checksum,
    #[error(
        "was written for another data set (the input files differ from those it was computed from)"
    )]
    OtherData,
    #[error(
        "was written with another solver configuration (flags that change the solution differ)"
    )]
    OtherConfig,
    #[error("cannot be decoded: {0}")]
    Payload(String),
}

/// Encodes a checkpoint with its fingerprint (layout in the module documentation).
pub fn encode<S: Serialize>(ck: &CheckpointRef<S>, fp: &Fingerprint) -> Result<Vec<u8>, String> {
    let mut enc = Encoder::default();
    enc.out.resize(HEADER_LEN, 0);
    ck.serialize(&mut enc).map_err(|e| e.0)?;
    let mut out = enc.out;
    let payload_len = (out.len() - HEADER_LEN) as u64;
    out[0..8].copy_from_slice(&MAGIC);
    out[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    out[12..20].copy_from_slice(&fp.data.to_le_bytes());
    out[20..28].copy_from_slice(&fp.config.to_le_bytes());
    out[28..36].copy_from_slice(&(ck.outer_iterations as u64).to_le_bytes());
    out[36..44].copy_from_slice(&payload_len.to_le_bytes());
    let sum = hash_bytes(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    Ok(out)
}

/// Any serde value in the payload encoding of this module (every f64 bit kept, NaN
/// included): what ranks exchange (`Comm::gather_bytes`) when a distributed solution is
/// collected on rank 0.
pub fn to_bytes<T: Serialize + ?Sized>(v: &T) -> Result<Vec<u8>, String> {
    let mut enc = Encoder::default();
    v.serialize(&mut enc).map_err(|e| e.0)?;
    Ok(enc.out)
}

/// The value of [`to_bytes`]; refuses bytes left over or missing.
pub fn from_bytes<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let mut dec = Decoder {
        buf: bytes,
        pos: 0,
        keys: Vec::new(),
    };
    let v = T::deserialize(&mut dec).map_err(|e| e.0)?;
    if dec.pos != bytes.len() {
        return Err(format!("{} bytes left over", bytes.len() - dec.pos));
    }
    Ok(v)
}

/// Outer iterations done, from a checkpoint's header (None when it is not one).
pub fn header_iterations(bytes: &[u8]) -> Option<usize> {
    (bytes.len() >= HEADER_LEN && bytes[0..8] == MAGIC).then(|| u64_at(bytes, 28) as usize)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

/// Decodes a checkpoint, refusing one that is not a checkpoint, of another format version,
/// truncated, corrupt, or computed from other data or another configuration than `fp`.
pub fn decode<S: DeserializeOwned>(
    bytes: &[u8],
    fp: &Fingerprint,
) -> Result<Checkpoint<S>, CheckpointError> {
    if bytes.len() < MAGIC.len() || bytes[0..8] != MAGIC {
        return Err(CheckpointError::NotCheckpoint);
    }
    if bytes.len() < HEADER_LEN {
        return Err(CheckpointError::Truncated {
            len: bytes.len(),
            expected: HEADER_LEN + 8,
        });
    }
    let mut v = [0u8; 4];
    v.copy_from_slice(&bytes[8..12]);
    let version = u32::from_le_bytes(v);
    if version != FORMAT_VERSION {
        return Err(CheckpointError::Version { found: version });
    }
    let payload_len = u64_at(bytes, 36);
    let expected = (HEADER_LEN as u64)
        .checked_add(payload_len)
        .and_then(|n| n.checked_add(8))
        .and_then(|n| usize::try_from(n).ok())
        .ok_or(CheckpointError::Checksum)?;
    if bytes.len() < expected {
        return Err(CheckpointError::Truncated {
            len: bytes.len(),
            expected,
        });
    }
    if bytes.len() > expected || hash_bytes(&bytes[..expected - 8]) != u64_at(bytes, expected - 8) {
        return Err(CheckpointError::Checksum);
    }
    if u64_at(bytes, 12) != fp.data {
        return Err(CheckpointError::OtherData);
    }
    if u64_at(bytes, 20) != fp.config {
        return Err(CheckpointError::OtherConfig);
    }
    let mut dec = Decoder {
        buf: &bytes[HEADER_LEN..expected - 8],
        pos: 0,
        keys: Vec::new(),
    };
    let ck = Checkpoint::<S>::deserialize(&mut dec).map_err(|e| CheckpointError::Payload(e.0))?;
    if dec.pos != dec.buf.len() {
        return Err(CheckpointError::Payload(format!(
            "{} bytes left after the payload",
            dec.buf.len() - dec.pos
        )));
    }
    if ck.outer_iterations as u64 != u64_at(bytes, 28) || ck.history.len() != ck.outer_iterations {
        return Err(CheckpointError::Payload(
            "the iteration count of the header and of the history differ".into(),
        ));
    }
    Ok(ck)
}

/// Fingerprint of the settings of `cfg` that change the numbers, with `extra` (the
/// instrument's settings, e.g. the frame mode): everything but the number of outer iterations
/// (a resumed solve may go on further), `allow_unconverged` and the memory limit.
pub fn config_fingerprint(cfg: &SolverConfig, extra: &[u8]) -> u64 {
    let mut c = cfg.clone();
    c.max_outer = 0;
    c.allow_unconverged = false;
    c.max_memory_bytes = None;
    let mut enc = Encoder::default();
    // SolverConfig holds only plain fields: its encoding cannot fail
    let _ = c.serialize(&mut enc);
    enc.out.extend_from_slice(extra);
    hash_bytes(&enc.out)
}

/// Fingerprint of input files: their names, sizes and contents ([`Hasher64`]); a missing
/// file counts as absent (optional inputs). Errors name the file.
pub fn fingerprint_files(paths: &[&Path]) -> Result<u64, String> {
    let mut h = Hasher64::default();
    let mut buf = vec![0u8; 1 << 20];
    for p in paths {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
        h.update(name.unwrap_or_default().as_bytes());
        let mut f = match std::fs::File::open(p) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                h.update(&u64::MAX.to_le_bytes());
                continue;
            }
            Err(e) => return Err(format!("{}: cannot open: {e}", p.display())),
        };
        let mut n = 0u64;
        loop {
            let k = f
                .read(&mut buf)
                .map_err(|e| format!("{}: cannot read: {e}", p.display()))?;
            if k == 0 {
                break;
            }
            h.update(&buf[..k]);
            n += k as u64;
        }
        h.update(&n.to_le_bytes());
    }
    Ok(h.finish())
}

/// A fast 64-bit hash for checksums and fingerprints (not cryptographic): 8-byte words
/// folded by h ← (rotl(h, 5) ⊕ w)·K (FxHash's step, a bijection of h for each word, so a
/// change of one word always changes the result), the length mixed in and a SplitMix64
/// finaliser.
#[derive(Clone, Debug)]
pub struct Hasher64 {
    h: u64,
    tail: [u8; 8],
    n_tail: usize,
    len: u64,
}

impl Default for Hasher64 {
    fn default() -> Self {
        Hasher64 {
            h: 0x243f_6a88_85a3_08d3,
            tail: [0; 8],
            n_tail: 0,
            len: 0,
        }
    }
}

const K: u64 = 0x517c_c1b7_2722_0a95;

impl Hasher64 {
    fn word(&mut self, w: u64) {
        self.h = (self.h.rotate_left(5) ^ w).wrapping_mul(K);
    }

    /// Adds bytes.
    pub fn update(&mut self, mut b: &[u8]) {
        self.len += b.len() as u64;
        if self.n_tail > 0 {
            let k = (8 - self.n_tail).min(b.len());
            self.tail[self.n_tail..self.n_tail + k].copy_from_slice(&b[..k]);
            self.n_tail += k;
            b = &b[k..];
            if self.n_tail < 8 {
                return;
            }
            let w = u64::from_le_bytes(self.tail);
            self.word(w);
            self.n_tail = 0;
        }
        let mut chunks = b.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.word(u64::from_le_bytes(w));
        }
        let r = chunks.remainder();
        self.tail[..r.len()].copy_from_slice(r);
        self.n_tail = r.len();
    }

    /// The hash of everything added.
    pub fn finish(&self) -> u64 {
        let mut s = self.clone();
        if s.n_tail > 0 {
            let mut w = [0u8; 8];
            w[..s.n_tail].copy_from_slice(&s.tail[..s.n_tail]);
            s.word(u64::from_le_bytes(w));
        }
        s.word(s.len);
        let mut z = s.h;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// [`Hasher64`] of one byte string.
pub fn hash_bytes(b: &[u8]) -> u64 {
    let mut h = Hasher64::default();
    h.update(b);
    h.finish()
}

// ---------------------------------------------------------------- the binary encoding

/// An encoding or decoding error.
#[derive(Debug)]
struct CodecError(String);

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for CodecError {}
impl ser::Error for CodecError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        CodecError(msg.to_string())
    }
}
impl de::Error for CodecError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        CodecError(msg.to_string())
    }
}

#[derive(Default)]
struct Encoder {
    out: Vec<u8>,
    keys: HashMap<&'static str, u32>,
}

impl Encoder {
    fn u64(&mut self, v: u64) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.u64(b.len() as u64);
        self.out.extend_from_slice(b);
    }
    fn key(&mut self, k: &'static str) {
        match self.keys.get(k) {
            Some(&i) => self.u32(i),
            None => {
                let i = self.keys.len() as u32;
                self.keys.insert(k, i);
                self.u32(i);
                self.bytes(k.as_bytes());
            }
        }
    }
}

type EncResult = Result<(), CodecError>;

impl ser::Serializer for &mut Encoder {
    type Ok = ();
    type Error = CodecError;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    fn serialize_bool(self, v: bool) -> EncResult {
        self.out.push(v as u8);
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> EncResult {
        self.serialize_i64(v as i64)
    }
    fn serialize_i16(self, v: i16) -> EncResult {
        self.serialize_i64(v as i64)
    }
    fn serialize_i32(self, v: i32) -> EncResult {
        self.serialize_i64(v as i64)
    }
    fn serialize_i64(self, v: i64) -> EncResult {
        self.u64(v as u64);
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> EncResult {
        self.serialize_u64(v as u64)
    }
    fn serialize_u16(self, v: u16) -> EncResult {
        self.serialize_u64(v as u64)
    }
    fn serialize_u32(self, v: u32) -> EncResult {
        self.serialize_u64(v as u64)
    }
    fn serialize_u64(self, v: u64) -> EncResult {
        self.u64(v);
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> EncResult {
        self.u32(v.to_bits());
        Ok(())
    }
    fn serialize_f64(self, v: f64) -> EncResult {
        self.u64(v.to_bits());
        Ok(())
    }
    fn serialize_char(self, v: char) -> EncResult {
        self.u32(v as u32);
        Ok(())
    }
    fn serialize_str(self, v: &str) -> EncResult {
        self.bytes(v.as_bytes());
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> EncResult {
        self.bytes(v);
        Ok(())
    }
    fn serialize_none(self) -> EncResult {
        self.out.push(0);
        Ok(())
    }
    fn serialize_some<T: ?Sized + Serialize>(self, v: &T) -> EncResult {
        self.out.push(1);
        v.serialize(self)
    }
    fn serialize_unit(self) -> EncResult {
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> EncResult {
        Ok(())
    }
    fn serialize_unit_variant(self, _: &'static str, i: u32, _: &'static str) -> EncResult {
        self.u32(i);
        Ok(())
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _: &'static str, v: &T) -> EncResult {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        i: u32,
        _: &'static str,
        v: &T,
    ) -> EncResult {
        self.u32(i);
        v.serialize(self)
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Self, CodecError> {
        let n = len.ok_or_else(|| CodecError("a sequence of unknown length".into()))?;
        self.u64(n as u64);
        Ok(self)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self, CodecError> {
        Ok(self)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self, CodecError> {
        Ok(self)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        i: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self, CodecError> {
        self.u32(i);
        Ok(self)
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Self, CodecError> {
        self.serialize_seq(len)
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Self, CodecError> {
        self.u32(len as u32);
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        i: u32,
        _: &'static str,
        len: usize,
    ) -> Result<Self, CodecError> {
        self.u32(i);
        self.u32(len as u32);
        Ok(self)
    }
}

macro_rules! compound {
    ($tr:ident, $f:ident) => {
        impl ser::$tr for &mut Encoder {
            type Ok = ();
            type Error = CodecError;
            fn $f<T: ?Sized + Serialize>(&mut self, v: &T) -> EncResult {
                v.serialize(&mut **self)
            }
            fn end(self) -> EncResult {
                Ok(())
            }
        }
    };
}
compound!(SerializeSeq, serialize_element);
compound!(SerializeTuple, serialize_element);
compound!(SerializeTupleStruct, serialize_field);
compound!(SerializeTupleVariant, serialize_field);

impl ser::SerializeMap for &mut Encoder {
    type Ok = ();
    type Error = CodecError;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, k: &T) -> EncResult {
        k.serialize(&mut **self)
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, v: &T) -> EncResult {
        v.serialize(&mut **self)
    }
    fn end(self) -> EncResult {
        Ok(())
    }
}

/// Struct fields: the field's key, then its value.
macro_rules! keyed {
    ($tr:ident) => {
        impl ser::$tr for &mut Encoder {
            type Ok = ();
            type Error = CodecError;
            fn serialize_field<T: ?Sized + Serialize>(
                &mut self,
                k: &'static str,
                v: &T,
            ) -> EncResult {
                self.key(k);
                v.serialize(&mut **self)
            }
            fn end(self) -> EncResult {
                Ok(())
            }
        }
    };
}
keyed!(SerializeStruct);
keyed!(SerializeStructVariant);

struct Decoder<'b> {
    buf: &'b [u8],
    pos: usize,
    keys: Vec<String>,
}

type DecResult<T> = Result<T, CodecError>;

impl<'b> Decoder<'b> {
    fn take(&mut self, n: usize) -> DecResult<&'b [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| CodecError(format!("the payload ends early at byte {}", self.pos)))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u64(&mut self) -> DecResult<u64> {
        let mut w = [0u8; 8];
        w.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(w))
    }
    fn u32(&mut self) -> DecResult<u32> {
        let mut w = [0u8; 4];
        w.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(w))
    }
    fn len(&mut self) -> DecResult<usize> {
        let n = self.u64()?;
        // every element takes at least one byte except units: a length beyond the payload is corrupt
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.buf.len() - self.pos)
            .ok_or_else(|| CodecError(format!("a length {n} beyond the payload")))
    }
    fn byte_string(&mut self) -> DecResult<&'b [u8]> {
        let n = self.len()?;
        self.take(n)
    }
    fn string(&mut self) -> DecResult<String> {
        let b = self.byte_string()?;
        String::from_utf8(b.to_vec()).map_err(|e| CodecError(format!("a string: {e}")))
    }
    fn key(&mut self) -> DecResult<String> {
        let i = self.u32()? as usize;
        if i == self.keys.len() {
            let k = self.string()?;
            self.keys.push(k);
        }
        self.keys
            .get(i)
            .cloned()
            .ok_or_else(|| CodecError(format!("an unknown field key {i}")))
    }
}

/// `n` elements of a sequence, tuple or map.
struct Counted<'d, 'b> {
    d: &'d mut Decoder<'b>,
    n: usize,
}

impl<'de, 'd, 'b> de::SeqAccess<'de> for Counted<'d, 'b> {
    type Error = CodecError;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> DecResult<Option<T::Value>> {
        if self.n == 0 {
            return Ok(None);
        }
        self.n -= 1;
        seed.deserialize(&mut *self.d).map(Some)
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.n)
    }
}

impl<'de, 'd, 'b> de::MapAccess<'de> for Counted<'d, 'b> {
    type Error = CodecError;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> DecResult<Option<K::Value>> {
        if self.n == 0 {
            return Ok(None);
        }
        self.n -= 1;
        seed.deserialize(&mut *self.d).map(Some)
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> DecResult<V::Value> {
        seed.deserialize(&mut *self.d)
    }
}

/// The fields of a struct: keys by name, values in order.
struct Fields<'d, 'b> {
    d: &'d mut Decoder<'b>,
    n: usize,
}

impl<'de, 'd, 'b> de::MapAccess<'de> for Fields<'d, 'b> {
    type Error = CodecError;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> DecResult<Option<K::Value>> {
        if self.n == 0 {
            return Ok(None);
        }
        self.n -= 1;
        let k = self.d.key()?;
        let kd: de::value::StringDeserializer<CodecError> = k.into_deserializer();
        seed.deserialize(kd).map(Some)
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> DecResult<V::Value> {
        seed.deserialize(&mut *self.d)
    }
}

impl<'de, 'd, 'b> de::EnumAccess<'de> for &'d mut Decoder<'b> {
    type Error = CodecError;
    type Variant = Self;
    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> DecResult<(V::Value, Self)> {
        let i = self.u32()?;
        let id: de::value::U32Deserializer<CodecError> = i.into_deserializer();
        Ok((seed.deserialize(id)?, self))
    }
}

impl<'de, 'd, 'b> de::VariantAccess<'de> for &'d mut Decoder<'b> {
    type Error = CodecError;
    fn unit_variant(self) -> DecResult<()> {
        Ok(())
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> DecResult<T::Value> {
        seed.deserialize(self)
    }
    fn tuple_variant<V: Visitor<'de>>(self, len: usize, v: V) -> DecResult<V::Value> {
        v.visit_seq(Counted { d: self, n: len })
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _: &'static [&'static str],
        v: V,
    ) -> DecResult<V::Value> {
        let n = self.u32()? as usize;
        v.visit_map(Fields { d: self, n })
    }
}

impl<'de, 'd, 'b> de::Deserializer<'de> for &'d mut Decoder<'b> {
    type Error = CodecError;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> DecResult<V::Value> {
        Err(CodecError(
            "a value of unknown type (the encoding is not self-describing)".into(),
        ))
    }
    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> DecResult<V::Value> {
        match self.take(1)?[0] {
            0 => v.visit_bool(false),
            1 => v.visit_bool(true),
            b => Err(CodecError(format!("a boolean {b}"))),
        }
    }
    fn deserialize_i8<V: Visitor<'de>>(self, v: V) -> DecResult<V::Value> {
        self.deserialize_i64(v)
    }
    fn deserialize_i16<V: Visitor<'de>>(self, v: V) -> DecResult<V::Value> {
        self.deserialize_i64(v)
    }
    fn deserialize_i32<V: Visitor<'de>>(self, v: V) -> DecResult<V::Value> {
        self.deserialize_i64(v)
    }
    fn deserialize_i64<V: Visitor<'de>>(self, v: V) -> DecResult<V::Value> {
        v.visit_i64(self.u64()? as i64)
    }
    fn deserialize_u8<V: Visitor<'de>>(self, v: V) -> DecResult<V::Value> {
        self.deserialize_u64(v)
    }
    fn deserialize_u16<V: Visitor<'de>>(self, v: V) -> DecResult<V::Value> {
        self.deserialize_u64(v)
    }
    fn deserialize_u32<V: Visitor<'de>>(self, v: V) -> DecResult<V::Value> {
        self.deserialize_u64(v)
    }
    fn deserialize_u64<V: Visitor<'de>>(self, v: V) -> DecResult<V::Value> {
        v.visit_u64(self.u64()?)
    }
    fn deserialize_f32<V: Visitor<'de>>(self, v: V) -> DecResult<V::Value> {
        v.visit_f32(f32::from_bits(self.u32()?))
    }
    fn deserialize_f64<V: Visitor<'de>>(self, v: V) -> DecResult<V::Value> {
        v.visit_f64(f64::from_bits(self.u64()?))
    }
    fn deserialize_char<V: Visitor<'de>>(self, v: V) -> DecResult<V::Value> {
        let c = self.u32()?;
        v.visit_char(char::from_u32(c).ok_or_else(|| CodecError(format!("a character {c}")))?)
    }
    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> DecResult<V::Value> {
        v.visit_string(self.string()?)
    }
    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> DecResult<V::Value> {
        v.visit_string(self.string()?)
    }
    fn deserialize_bytes<V: Visitor<'de>>(self, v: V) -> DecResult<V::Value> {
        v.visit_byte_buf(self.byte_string()?.to_vec())
    }
    fn deserialize_byte_buf<V: Visitor<'de>>(self, v: V) -> DecResult<V::Value> {
        v.visit_byte_buf(self.byte_string()?.to_vec())
    }
    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> DecResult<V::Value> {
        match self.take(1)?[0] {
            0 => v.visit_none(),
            1 => v.visit_some(self),
            b => Err(CodecError(format!("an option tag {b}"))),
        }
    }
    fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> DecResult<V::Value> {
        v.visit_unit()
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        v: V,
    ) -> DecResult<V::Value> {
        v.visit_unit()
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        v: V,
    ) -> DecResult<V::Value> {
        v.visit_newtype_struct(self)
    }
    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> DecResult<V::Value> {
        let n = self.len()?;
        v.visit_seq(Counted { d: self, n })
    }
    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, v: V) -> DecResult<V::Value> {
        v.visit_seq(Counted { d: self, n: len })
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        len: usize,
        v: V,
    ) -> DecResult<V::Value> {
        v.visit_seq(Counted { d: self, n: len })
    }
    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> DecResult<V::Value> {
        let n = self.len()?;
        v.visit_map(Counted { d: self, n })
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        v: V,
    ) -> DecResult<V::Value> {
        let n = self.u32()? as usize;
        v.visit_map(Fields { d: self, n })
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        v: V,
    ) -> DecResult<V::Value> {
        v.visit_enum(self)
    }
    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> DecResult<V::Value> {
        v.visit_string(self.string()?)
    }
    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> DecResult<V::Value> {
        self.deserialize_any(v)
    }
    fn is_human_readable(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outer::{FrameFix, GroupRedundancy};
    use serde::Serialize;

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    struct TestState {
        params: Vec<[f64; 5]>,
        extra: Option<Vec<f64>>,
        name: String,
        kind: Kind,
    }

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    enum Kind {
        A,
        B(f64),
        C { x: f64, y: [u8; 2] },
    }

    /// Awkward f64 values: signed zeros, subnormals, extremes, NaN payloads, infinities.
    fn awkward(i: usize) -> f64 {
        let v = [
            0.0,
            -0.0,
            f64::MIN_POSITIVE / 3.0,
            f64::MAX,
            -f64::MIN_POSITIVE,
            f64::from_bits(0x7ff8_0000_0000_0001),
            f64::INFINITY,
            f64::NEG_INFINITY,
            1.0 / 3.0,
            std::f64::consts::PI * 1e-300,
        ];
        v[i % v.len()] * (1.0 + (i / v.len()) as f64 * 1e-16)
    }

    fn record(k: usize) -> OuterRecord {
        OuterRecord {
            iteration: k,
            inner_iterations: 17 + k,
            inner_converged: k & 1 == 0,
            max_update_uas: awkward(k),
            max_update_parts_uas: [awkward(k + 1), awkward(k + 2), awkward(k + 3)],
            max_update_sigma: (k & 1 == 1).then(|| awkward(k + 4)),
            inner_history: (0..5).map(|i| awkward(i + k)).collect(),
            lsqr_stop: None,
            n_solved_sources: 1000 + k,
            n_outliers: k,
            frame: FrameFix {
                rotation_uas: Some([awkward(4), 1e-3, -2.5]),
                spin_uas_per_yr: None,
                ..FrameFix::default()
            },
            wall_seconds: 0.25 * k as f64,
        }
    }

    fn bits<T: Serialize>(v: &T) -> Vec<u8> {
        let mut e = Encoder::default();
        v.serialize(&mut e).expect("encodable");
        e.out
    }

    #[test]
    fn checkpoint_round_trips_every_bit() {
        let state = TestState {
            params: (0..40)
                .map(|i| std::array::from_fn(|k| awkward(5 * i + k)))
                .collect(),
            extra: Some(vec![awkward(3), -0.0]),
            name: "ε Eri".into(),
            kind: Kind::C {
                x: awkward(5),
                y: [1, 255],
            },
        };
        let history: Vec<OuterRecord> = (1..=3).map(record).collect();
        let redundancy = Redundancy {
            n_sources: 40,
            n_solvable_sources: 38,
            rows_per_source_median: awkward(8),
            groups: vec![GroupRedundancy {
                name: "attitude".into(),
                unknowns: 400,
                rows: 9000,
                rows_per_unknown: 22.5,
                empty_blocks: 1,
            }],
            warnings: vec!["few".into()],
            ..Redundancy::default()
        };
        let updates = vec![awkward(2), awkward(9), 3e-12];
        let ck = CheckpointRef {
            outer_iterations: 3,
            state: &state,
            history: &history,
            forcing_updates: &updates,
            forcing_last: Some(1e-3),
            settled: true,
            robust_iterations: 1,
            redundancy: &redundancy,
        };
        let fp = Fingerprint {
            data: 0x1234,
            config: 0xabcd,
        };
        let bytes = encode(&ck, &fp).expect("encodes");
        assert_eq!(header_iterations(&bytes), Some(3));
        let back: Checkpoint<TestState> = decode(&bytes, &fp).expect("decodes");
        // every bit: the re-encoding of the decoded checkpoint is the same byte string, and
        // the floats compare by their bits
        let again = encode(
            &CheckpointRef {
                outer_iterations: back.outer_iterations,
                state: &back.state,
                history: &back.history,
                forcing_updates: &back.forcing_updates,
                forcing_last: back.forcing_last,
                settled: back.settled,
                robust_iterations: back.robust_iterations,
                redundancy: &back.redundancy,
            },
            &fp,
        )
        .expect("encodes");
        assert_eq!(bytes, again);
        for (a, b) in state.params.iter().zip(&back.state.params) {
            for k in 0..5 {
                assert_eq!(a[k].to_bits(), b[k].to_bits());
            }
        }
        assert_eq!(back.state.name, state.name);
        assert_eq!(bits(&back.state.kind), bits(&state.kind));
        assert_eq!(
            back.history[2].max_update_uas.to_bits(),
            history[2].max_update_uas.to_bits()
        );
        assert_eq!(back.redundancy.groups[0].name, "attitude");
        assert!(back.redundancy.screening.is_none());
        assert!(back.settled && back.robust_iterations == 1);
    }

    #[test]
    fn refuses_truncated_corrupt_and_foreign_checkpoints() {
        let state = vec![1.0f64, 2.0];
        let redundancy = Redundancy::default();
        let history = vec![record(1)];
        let ck = CheckpointRef {
            outer_iterations: 1,
            state: &state,
            history: &history,
            forcing_updates: &[1.0],
            forcing_last: None,
            settled: false,
            robust_iterations: 0,
            redundancy: &redundancy,
        };
        let fp = Fingerprint { data: 1, config: 2 };
        let bytes = encode(&ck, &fp).expect("encodes");
        let dec = |b: &[u8], fp: &Fingerprint| decode::<Vec<f64>>(b, fp).map(|_| ());
        assert!(dec(&bytes, &fp).is_ok());
        for cut in [4, HEADER_LEN - 1, HEADER_LEN + 3, bytes.len() - 1] {
            let e = dec(&bytes[..cut], &fp).unwrap_err();
            assert!(
                matches!(
                    e,
                    CheckpointError::Truncated { .. } | CheckpointError::NotCheckpoint
                ),
                "cut at {cut}: {e}"
            );
        }
        let mut flipped = bytes.clone();
        flipped[HEADER_LEN + 10] ^= 0x10;
        assert_eq!(dec(&flipped, &fp), Err(CheckpointError::Checksum));
        assert_eq!(
            dec(&bytes, &Fingerprint { data: 9, config: 2 }),
            Err(CheckpointError::OtherData)
        );
        assert_eq!(
            dec(&bytes, &Fingerprint { data: 1, config: 9 }),
            Err(CheckpointError::OtherConfig)
        );
        assert_eq!(dec(b"PK\x03\x04", &fp), Err(CheckpointError::NotCheckpoint));
    }

    #[test]
    fn config_fingerprint_ignores_only_the_stopping_settings() {
        let a = SolverConfig::scanning();
        let mut b = a.clone();
        b.max_outer += 5;
        b.allow_unconverged = !b.allow_unconverged;
        assert_eq!(
            config_fingerprint(&a, b"gaia"),
            config_fingerprint(&b, b"gaia")
        );
        assert_ne!(
            config_fingerprint(&a, b"gaia"),
            config_fingerprint(&a, b"min-norm")
        );
        let mut c = a.clone();
        c.outer_tol_uas *= 1.0 + f64::EPSILON;
        assert_ne!(config_fingerprint(&a, b""), config_fingerprint(&c, b""));
    }
}
