//! The Rust guest SDK of Thalo: everything an aggregate module needs besides the code
//! generated from its ESDL schema and the author's own code.
//!
//! This file is compiled as the module `thalo` at the root of the module's crate
//! (`#[path = "thalo.rs"] pub mod thalo;`), a `cdylib` for `wasm32-unknown-unknown`, with
//! Rust 1.63 or newer and no dependencies. It provides
//!
//! - [`JsonValue`], a strict JSON reader ([`JsonValue::parse`]) and a compact writer
//!   ([`JsonWriter`]);
//! - [`JsonCodable`], the JSON form of ESDL values (scalars, `Option`, `Vec`, `Box`, and the
//!   records the generator writes), with [`Fields`] to read an object's members;
//! - [`Context`], [`Metadata`] and [`AggregateError`], which handlers see;
//! - [`Event`], [`EventList`], [`AggregateModule`] and [`EntityTable`], which the generated
//!   code uses, and the macro [`thalo_exports!`](crate::thalo_exports) that declares the
//!   contract's exports (docs/module-contract.md) for a module type, the optional snapshot
//!   functions of contract 1.1 included (an aggregate that implements neither `snapshot`
//!   nor `restore` answers "no snapshot").
//!
//! Memory: argument memory (what the host allocates with `cabi_realloc`) comes from an
//! arena that every export resets before it returns; results live in buffers that are
//! reused by every call and cleared by the `cabi_post_…` functions. The module imports
//! nothing: Rust's standard library for `wasm32-unknown-unknown` needs no host functions,
//! and a panic (with `-C panic=abort`) is a trap, after which the host discards the
//! instance.

#![allow(dead_code)]

use std::alloc::{self, Layout};
use std::fmt;

// MARK: - JSON values

/// A JSON value. Objects keep their members in the order given (and do not deduplicate
/// keys: keep them unique, Thalo rejects JSON with a repeated key).
#[derive(Clone, Debug, PartialEq)]
pub enum JsonValue {
    /// `null`
    Null,
    /// `true` or `false`
    Bool(bool),
    /// A number written without fraction or exponent that fits in 64 bits.
    Int(i64),
    /// Any other number. Non-finite values are written as `null`.
    Double(f64),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<JsonValue>),
    /// An object: members in order.
    Object(Vec<(String, JsonValue)>),
}

impl JsonValue {
    /// Parses JSON text that holds exactly one value (whitespace around it allowed).
    ///
    /// The reader is strict (RFC 8259): no trailing commas, comments, leading zeros, `NaN`,
    /// unescaped control characters or invalid UTF-8; nesting is limited to 512 levels.
    /// Repeated keys are kept as they are.
    pub fn parse(bytes: &[u8]) -> Result<JsonValue, JsonError> {
        let mut parser = Parser { bytes, index: 0, depth: 0 };
        parser.skip_whitespace();
        let value = parser.value()?;
        parser.skip_whitespace();
        if parser.index < bytes.len() {
            return Err(parser.error("unexpected text after the JSON value"));
        }
        Ok(value)
    }

    /// Parses JSON text; see [`JsonValue::parse`].
    pub fn parse_str(text: &str) -> Result<JsonValue, JsonError> {
        JsonValue::parse(text.as_bytes())
    }

    /// An object from key–value pairs, in order:
    /// `JsonValue::object([("open", true.into()), ("balance", 100i64.into())])`.
    pub fn object<K: Into<String>, I: IntoIterator<Item = (K, JsonValue)>>(members: I) -> JsonValue {
        JsonValue::Object(members.into_iter().map(|(key, value)| (key.into(), value)).collect())
    }

    /// An array from values.
    pub fn array<I: IntoIterator<Item = JsonValue>>(elements: I) -> JsonValue {
        JsonValue::Array(elements.into_iter().collect())
    }

    /// The compact JSON text.
    pub fn to_json_string(&self) -> String {
        let mut writer = JsonWriter::new();
        writer.value(self);
        writer.into_string()
    }

    /// The member of an object with this key (the first one), if any.
    pub fn get(&self, key: &str) -> Option<&JsonValue> {
        match self {
            JsonValue::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Whether the value is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, JsonValue::Null)
    }

    /// The boolean, if the value is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            JsonValue::Bool(value) => Some(*value),
            _ => None,
        }
    }

    /// The integer, if the value is an `Int`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            JsonValue::Int(value) => Some(*value),
            _ => None,
        }
    }

    /// The number as a double, if the value is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            JsonValue::Int(value) => Some(*value as f64),
            JsonValue::Double(value) => Some(*value),
            _ => None,
        }
    }

    /// The string, if the value is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            JsonValue::String(value) => Some(value),
            _ => None,
        }
    }

    /// The elements, if the value is an array.
    pub fn as_array(&self) -> Option<&[JsonValue]> {
        match self {
            JsonValue::Array(elements) => Some(elements),
            _ => None,
        }
    }

    /// The members, if the value is an object.
    pub fn as_object(&self) -> Option<&[(String, JsonValue)]> {
        match self {
            JsonValue::Object(members) => Some(members),
            _ => None,
        }
    }

    /// What kind of value this is, for messages: "null", "a number", "an object", …
    pub fn kind(&self) -> &'static str {
        match self {
            JsonValue::Null => "null",
            JsonValue::Bool(_) => "a boolean",
            JsonValue::Int(_) => "an integer",
            JsonValue::Double(_) => "a number with a fraction or exponent",
            JsonValue::String(_) => "a string",
            JsonValue::Array(_) => "an array",
            JsonValue::Object(_) => "an object",
        }
    }
}

impl fmt::Display for JsonValue {
    /// The compact JSON text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json_string())
    }
}

impl From<bool> for JsonValue {
    fn from(value: bool) -> JsonValue {
        JsonValue::Bool(value)
    }
}

impl From<i32> for JsonValue {
    fn from(value: i32) -> JsonValue {
        JsonValue::Int(value as i64)
    }
}

impl From<i64> for JsonValue {
    fn from(value: i64) -> JsonValue {
        JsonValue::Int(value)
    }
}

impl From<u32> for JsonValue {
    fn from(value: u32) -> JsonValue {
        JsonValue::Int(value as i64)
    }
}

impl From<f32> for JsonValue {
    fn from(value: f32) -> JsonValue {
        value.to_json()
    }
}

impl From<f64> for JsonValue {
    fn from(value: f64) -> JsonValue {
        JsonValue::Double(value)
    }
}

impl From<&str> for JsonValue {
    fn from(value: &str) -> JsonValue {
        JsonValue::String(value.to_string())
    }
}

impl From<String> for JsonValue {
    fn from(value: String) -> JsonValue {
        JsonValue::String(value)
    }
}

impl<T: Into<JsonValue>> From<Option<T>> for JsonValue {
    fn from(value: Option<T>) -> JsonValue {
        match value {
            Some(value) => value.into(),
            None => JsonValue::Null,
        }
    }
}

impl<T: Into<JsonValue>> From<Vec<T>> for JsonValue {
    fn from(value: Vec<T>) -> JsonValue {
        JsonValue::Array(value.into_iter().map(Into::into).collect())
    }
}

// MARK: - Reading JSON

/// Why JSON text could not be read: the byte offset and what was wrong there.
#[derive(Clone, Debug, PartialEq)]
pub struct JsonError {
    /// Byte offset in the text.
    pub offset: usize,
    /// What was expected or found.
    pub message: String,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid JSON at byte {}: {}", self.offset, self.message)
    }
}

const MAX_DEPTH: usize = 512;

struct Parser<'a> {
    bytes: &'a [u8],
    index: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn error(&self, message: &str) -> JsonError {
        JsonError { offset: self.index, message: message.to_string() }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.index).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(byte) = self.peek() {
            if byte == b' ' || byte == b'\n' || byte == b'\r' || byte == b'\t' {
                self.index += 1;
            } else {
                break;
            }
        }
    }

    fn literal(&mut self, text: &[u8], value: JsonValue) -> Result<JsonValue, JsonError> {
        if self.bytes[self.index..].starts_with(text) {
            self.index += text.len();
            Ok(value)
        } else {
            Err(self.error("expected a JSON value"))
        }
    }

    fn value(&mut self) -> Result<JsonValue, JsonError> {
        match self.peek() {
            None => Err(self.error("unexpected end of text, expected a JSON value")),
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => Ok(JsonValue::String(self.string()?)),
            Some(b't') => self.literal(b"true", JsonValue::Bool(true)),
            Some(b'f') => self.literal(b"false", JsonValue::Bool(false)),
            Some(b'n') => self.literal(b"null", JsonValue::Null),
            Some(b'-') | Some(b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("expected a JSON value")),
        }
    }

    fn enter(&mut self) -> Result<(), JsonError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error("nesting deeper than 512 levels"));
        }
        Ok(())
    }

    fn object(&mut self) -> Result<JsonValue, JsonError> {
        self.enter()?;
        self.index += 1; // {
        let mut members = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.index += 1;
            self.depth -= 1;
            return Ok(JsonValue::Object(members));
        }
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a string key"));
            }
            let key = self.string()?;
            self.skip_whitespace();
            if self.peek() != Some(b':') {
                return Err(self.error("expected ':' after an object key"));
            }
            self.index += 1;
            self.skip_whitespace();
            let value = self.value()?;
            members.push((key, value));
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.index += 1,
                Some(b'}') => {
                    self.index += 1;
                    self.depth -= 1;
                    return Ok(JsonValue::Object(members));
                }
                _ => return Err(self.error("expected ',' or '}' in an object")),
            }
        }
    }

    fn array(&mut self) -> Result<JsonValue, JsonError> {
        self.enter()?;
        self.index += 1; // [
        let mut elements = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.index += 1;
            self.depth -= 1;
            return Ok(JsonValue::Array(elements));
        }
        loop {
            self.skip_whitespace();
            elements.push(self.value()?);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.index += 1,
                Some(b']') => {
                    self.index += 1;
                    self.depth -= 1;
                    return Ok(JsonValue::Array(elements));
                }
                _ => return Err(self.error("expected ',' or ']' in an array")),
            }
        }
    }

    /// Reads a string starting at its opening quote.
    fn string(&mut self) -> Result<String, JsonError> {
        self.index += 1; // "
        let start = self.index;
        // Fast path: no escapes.
        while let Some(byte) = self.peek() {
            if byte == b'"' || byte == b'\\' || byte < 0x20 {
                break;
            }
            self.index += 1;
        }
        let mut text: Vec<u8> = Vec::new();
        let mut run_start = start;
        loop {
            match self.peek() {
                None => {
                    return Err(JsonError { offset: start - 1, message: "unterminated string".to_string() })
                }
                Some(b'"') => {
                    let run = &self.bytes[run_start..self.index];
                    self.index += 1;
                    if text.is_empty() {
                        return match std::str::from_utf8(run) {
                            Ok(valid) => Ok(valid.to_string()),
                            Err(error) => Err(JsonError {
                                offset: run_start + error.valid_up_to(),
                                message: "invalid UTF-8 in a string".to_string(),
                            }),
                        };
                    }
                    text.extend_from_slice(run);
                    return String::from_utf8(text).map_err(|error| JsonError {
                        offset: start + error.utf8_error().valid_up_to(),
                        message: "invalid UTF-8 in a string".to_string(),
                    });
                }
                Some(b'\\') => {
                    text.extend_from_slice(&self.bytes[run_start..self.index]);
                    self.index += 1;
                    let escape = match self.peek() {
                        Some(byte) => byte,
                        None => return Err(self.error("unterminated escape sequence")),
                    };
                    self.index += 1;
                    match escape {
                        b'"' => text.push(b'"'),
                        b'\\' => text.push(b'\\'),
                        b'/' => text.push(b'/'),
                        b'b' => text.push(0x08),
                        b'f' => text.push(0x0C),
                        b'n' => text.push(b'\n'),
                        b'r' => text.push(b'\r'),
                        b't' => text.push(b'\t'),
                        b'u' => {
                            let mut code = self.hex4()?;
                            if (0xD800..0xDC00).contains(&code) {
                                if self.bytes[self.index..].starts_with(b"\\u") {
                                    self.index += 2;
                                    let low = self.hex4()?;
                                    if !(0xDC00..0xE000).contains(&low) {
                                        self.index -= 6;
                                        return Err(self.error("invalid low surrogate in a \\u escape"));
                                    }
                                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                                } else {
                                    return Err(self.error("unpaired surrogate in a \\u escape"));
                                }
                            } else if (0xDC00..0xE000).contains(&code) {
                                self.index -= 6;
                                return Err(self.error("unpaired surrogate in a \\u escape"));
                            }
                            let character = char::from_u32(code).unwrap_or('\u{FFFD}');
                            let mut buffer = [0u8; 4];
                            text.extend_from_slice(character.encode_utf8(&mut buffer).as_bytes());
                        }
                        _ => {
                            self.index -= 2;
                            return Err(self.error("invalid escape sequence"));
                        }
                    }
                    run_start = self.index;
                }
                Some(_) => {
                    // A control character (the only other byte the loops stop at).
                    if self.peek().map_or(false, |byte| byte < 0x20) {
                        return Err(self.error("unescaped control character in a string"));
                    }
                    self.index += 1;
                }
            }
            while let Some(byte) = self.peek() {
                if byte == b'"' || byte == b'\\' || byte < 0x20 {
                    break;
                }
                self.index += 1;
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut code = 0u32;
        for _ in 0..4 {
            let digit = match self.peek() {
                Some(byte @ b'0'..=b'9') => byte - b'0',
                Some(byte @ b'a'..=b'f') => byte - b'a' + 10,
                Some(byte @ b'A'..=b'F') => byte - b'A' + 10,
                _ => return Err(self.error("expected four hexadecimal digits after \\u")),
            };
            code = code * 16 + digit as u32;
            self.index += 1;
        }
        Ok(code)
    }

    fn digits(&mut self) -> usize {
        let start = self.index;
        while let Some(b'0'..=b'9') = self.peek() {
            self.index += 1;
        }
        self.index - start
    }

    fn number(&mut self) -> Result<JsonValue, JsonError> {
        let start = self.index;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.index += 1;
        }
        let integer_start = self.index;
        let count = self.digits();
        if count == 0 {
            return Err(self.error("expected a digit"));
        }
        if count > 1 && self.bytes[integer_start] == b'0' {
            return Err(JsonError { offset: integer_start, message: "leading zero in a number".to_string() });
        }
        let mut integral = true;
        if self.peek() == Some(b'.') {
            integral = false;
            self.index += 1;
            if self.digits() == 0 {
                return Err(self.error("expected a digit after the decimal point"));
            }
        }
        if let Some(b'e') | Some(b'E') = self.peek() {
            integral = false;
            self.index += 1;
            if let Some(b'+') | Some(b'-') = self.peek() {
                self.index += 1;
            }
            if self.digits() == 0 {
                return Err(self.error("expected a digit in the exponent"));
            }
        }
        if integral {
            // Accumulate negatively so that i64::MIN fits.
            let mut value: i64 = 0;
            let mut fits = true;
            for &byte in &self.bytes[integer_start..self.index] {
                match value.checked_mul(10).and_then(|v| v.checked_sub((byte - b'0') as i64)) {
                    Some(next) => value = next,
                    None => {
                        fits = false;
                        break;
                    }
                }
            }
            if fits && negative {
                return Ok(JsonValue::Int(value));
            }
            if fits && value != i64::MIN {
                return Ok(JsonValue::Int(-value));
            }
        }
        // Only ASCII digits, signs, '.', 'e' and 'E' are in the range.
        let text = std::str::from_utf8(&self.bytes[start..self.index]).unwrap_or("");
        match text.parse::<f64>() {
            Ok(value) if value.is_finite() => Ok(JsonValue::Double(value)),
            _ => Err(JsonError { offset: start, message: "number out of range".to_string() }),
        }
    }
}

// MARK: - Writing JSON

/// A compact JSON writer over a byte buffer.
///
/// Objects and arrays put commas on their own: call [`JsonWriter::key`] (or
/// [`JsonWriter::field`]) for each member and [`JsonWriter::element`] before each element.
#[derive(Clone, Debug, Default)]
pub struct JsonWriter {
    /// The UTF-8 text written so far.
    pub bytes: Vec<u8>,
}

impl JsonWriter {
    /// An empty writer.
    pub const fn new() -> JsonWriter {
        JsonWriter { bytes: Vec::new() }
    }

    /// The text written, as a `String`.
    pub fn into_string(self) -> String {
        // Everything written is valid UTF-8: strings come from `&str`, the rest is ASCII.
        String::from_utf8(self.bytes).unwrap_or_default()
    }

    /// Appends raw text, which must be valid JSON where it is written.
    pub fn raw(&mut self, text: &[u8]) {
        self.bytes.extend_from_slice(text);
    }

    /// `null`
    pub fn null(&mut self) {
        self.bytes.extend_from_slice(b"null");
    }

    /// `true` or `false`
    pub fn bool(&mut self, value: bool) {
        self.bytes.extend_from_slice(if value { b"true" } else { b"false" });
    }

    /// An integer, in decimal digits.
    pub fn int(&mut self, value: i64) {
        let mut digits = [0u8; 20];
        let mut index = digits.len();
        let mut magnitude = value.unsigned_abs();
        loop {
            index -= 1;
            digits[index] = b'0' + (magnitude % 10) as u8;
            magnitude /= 10;
            if magnitude == 0 {
                break;
            }
        }
        if value < 0 {
            self.bytes.push(b'-');
        }
        self.bytes.extend_from_slice(&digits[index..]);
    }

    /// A double in its shortest round-trip form (`0.1`, `3.0`, `1e100`); NaN and
    /// infinities as `null`.
    pub fn double(&mut self, value: f64) {
        if !value.is_finite() {
            return self.null();
        }
        use std::fmt::Write;
        let _ = write!(ByteSink(&mut self.bytes), "{:?}", value);
    }

    /// A float in its shortest round-trip form as a 32-bit float (`0.1`, not
    /// `0.10000000149011612`); NaN and infinities as `null`.
    pub fn float(&mut self, value: f32) {
        if !value.is_finite() {
            return self.null();
        }
        use std::fmt::Write;
        let _ = write!(ByteSink(&mut self.bytes), "{:?}", value);
    }

    /// A JSON string: `"` and `\` escaped, `\n` `\r` `\t` `\b` `\f`, other control
    /// characters as `\u00XX`, everything else as its UTF-8 bytes.
    pub fn string(&mut self, value: &str) {
        let text = value.as_bytes();
        self.bytes.reserve(text.len() + 2);
        self.bytes.push(b'"');
        let mut run_start = 0;
        for (index, &byte) in text.iter().enumerate() {
            if byte >= 0x20 && byte != b'"' && byte != b'\\' {
                continue;
            }
            self.bytes.extend_from_slice(&text[run_start..index]);
            run_start = index + 1;
            match byte {
                b'"' => self.bytes.extend_from_slice(b"\\\""),
                b'\\' => self.bytes.extend_from_slice(b"\\\\"),
                b'\n' => self.bytes.extend_from_slice(b"\\n"),
                b'\r' => self.bytes.extend_from_slice(b"\\r"),
                b'\t' => self.bytes.extend_from_slice(b"\\t"),
                0x08 => self.bytes.extend_from_slice(b"\\b"),
                0x0C => self.bytes.extend_from_slice(b"\\f"),
                _ => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    self.bytes.extend_from_slice(b"\\u00");
                    self.bytes.push(HEX[(byte >> 4) as usize]);
                    self.bytes.push(HEX[(byte & 15) as usize]);
                }
            }
        }
        self.bytes.extend_from_slice(&text[run_start..]);
        self.bytes.push(b'"');
    }

    /// Bytes as a base64 string (standard alphabet, with padding).
    pub fn base64(&mut self, value: &[u8]) {
        self.bytes.push(b'"');
        base64_encode(value, &mut self.bytes);
        self.bytes.push(b'"');
    }

    /// `{`
    pub fn begin_object(&mut self) {
        self.bytes.push(b'{');
    }

    /// `}`
    pub fn end_object(&mut self) {
        self.bytes.push(b'}');
    }

    /// `[`
    pub fn begin_array(&mut self) {
        self.bytes.push(b'[');
    }

    /// `]`
    pub fn end_array(&mut self) {
        self.bytes.push(b']');
    }

    /// A comma unless this is the first member or element (the text so far ends with
    /// `{` or `[`).
    fn separator(&mut self) {
        match self.bytes.last() {
            Some(b'{') | Some(b'[') | None => {}
            Some(_) => self.bytes.push(b','),
        }
    }

    /// Starts an object member: a comma when needed, the key and `:`.
    pub fn key(&mut self, key: &str) {
        self.separator();
        self.string(key);
        self.bytes.push(b':');
    }

    /// Starts an array element: a comma when needed.
    pub fn element(&mut self) {
        self.separator();
    }

    /// Writes an object member.
    pub fn field<T: JsonCodable>(&mut self, key: &str, value: &T) {
        self.key(key);
        value.write_json(self);
    }

    /// Writes any value.
    pub fn value(&mut self, value: &JsonValue) {
        match value {
            JsonValue::Null => self.null(),
            JsonValue::Bool(value) => self.bool(*value),
            JsonValue::Int(value) => self.int(*value),
            JsonValue::Double(value) => self.double(*value),
            JsonValue::String(value) => self.string(value),
            JsonValue::Array(elements) => {
                self.begin_array();
                for element in elements {
                    self.element();
                    self.value(element);
                }
                self.end_array();
            }
            JsonValue::Object(members) => {
                self.begin_object();
                for (key, member) in members {
                    self.key(key);
                    self.value(member);
                }
                self.end_object();
            }
        }
    }
}

struct ByteSink<'a>(&'a mut Vec<u8>);

impl<'a> fmt::Write for ByteSink<'a> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        self.0.extend_from_slice(text.as_bytes());
        Ok(())
    }
}

// MARK: - Base64

const BASE64_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Appends `bytes` in base64 (standard alphabet, with `=` padding).
pub fn base64_encode(bytes: &[u8], out: &mut Vec<u8>) {
    out.reserve((bytes.len() + 2) / 3 * 4);
    for chunk in bytes.chunks(3) {
        let b0 = chunk[0] as u32;
        let b1 = if chunk.len() > 1 { chunk[1] as u32 } else { 0 };
        let b2 = if chunk.len() > 2 { chunk[2] as u32 } else { 0 };
        let group = (b0 << 16) | (b1 << 8) | b2;
        out.push(BASE64_ALPHABET[(group >> 18) as usize & 63]);
        out.push(BASE64_ALPHABET[(group >> 12) as usize & 63]);
        out.push(if chunk.len() > 1 { BASE64_ALPHABET[(group >> 6) as usize & 63] } else { b'=' });
        out.push(if chunk.len() > 2 { BASE64_ALPHABET[group as usize & 63] } else { b'=' });
    }
}

/// Decodes base64 (standard alphabet, padded to a multiple of 4 characters); `None` when
/// the text is not that.
pub fn base64_decode(text: &[u8]) -> Option<Vec<u8>> {
    fn sextet(byte: u8) -> Option<u32> {
        match byte {
            b'A'..=b'Z' => Some((byte - b'A') as u32),
            b'a'..=b'z' => Some((byte - b'a' + 26) as u32),
            b'0'..=b'9' => Some((byte - b'0' + 52) as u32),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    if text.len() % 4 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let groups = text.len() / 4;
    for (index, chunk) in text.chunks(4).enumerate() {
        let last = index + 1 == groups;
        let padding = if last { chunk.iter().rev().take_while(|&&b| b == b'=').count() } else { 0 };
        if padding > 2 {
            return None;
        }
        let mut group = 0u32;
        for &byte in &chunk[..4 - padding] {
            group = (group << 6) | sextet(byte)?;
        }
        group <<= 6 * padding as u32;
        out.push((group >> 16) as u8);
        if padding < 2 {
            out.push((group >> 8) as u8);
        }
        if padding < 1 {
            out.push(group as u8);
        }
    }
    Some(out)
}

// MARK: - Decoding typed values

/// Why a JSON value does not have the expected form: where (`lines[2].sku`, empty for the
/// value itself) and what.
#[derive(Clone, Debug, PartialEq)]
pub struct DecodeError {
    /// Path to the offending value from the payload's top: keys and `[index]`es.
    pub path: String,
    /// What was expected and found.
    pub message: String,
}

impl DecodeError {
    /// An error about the value being decoded.
    pub fn new<M: Into<String>>(message: M) -> DecodeError {
        DecodeError { path: String::new(), message: message.into() }
    }

    /// A value of the wrong kind: "expected `expected`, found a string".
    pub fn expected(expected: &str, found: &JsonValue) -> DecodeError {
        DecodeError::new(format!("expected {}, found {}", expected, found.kind()))
    }

    /// The same error, seen from the object that holds the value at `key`.
    pub fn at_key(mut self, key: &str) -> DecodeError {
        self.path = if self.path.is_empty() {
            key.to_string()
        } else if self.path.starts_with('[') {
            format!("{}{}", key, self.path)
        } else {
            format!("{}.{}", key, self.path)
        };
        self
    }

    /// The same error, seen from the array that holds the value at `index`.
    pub fn at_index(mut self, index: usize) -> DecodeError {
        self.path = if self.path.is_empty() || self.path.starts_with('[') {
            format!("[{}]{}", index, self.path)
        } else {
            format!("[{}].{}", index, self.path)
        };
        self
    }
}

impl fmt::Display for DecodeError {
    /// `lines[2].sku: expected a String, found an integer`, or the message alone at the top.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl From<JsonError> for DecodeError {
    fn from(error: JsonError) -> DecodeError {
        DecodeError::new(error.to_string())
    }
}

/// A value with a JSON form: the ESDL scalars (`String`, `i32`, `i64`, `f32`, `f64`,
/// `bool`, `Vec<u8>` as base64), `Option<T>` (`null`), `Vec<T>` (arrays), `Box<T>`,
/// `JsonValue`, and the records the generator writes for events and custom types.
pub trait JsonCodable: Sized {
    /// Reads the value. Objects' unknown keys are ignored.
    fn from_json(value: &JsonValue) -> Result<Self, DecodeError>;

    /// Writes the value as compact JSON.
    fn write_json(&self, out: &mut JsonWriter);

    /// The value as a [`JsonValue`] (by default, its JSON text read back).
    fn to_json(&self) -> JsonValue {
        let mut writer = JsonWriter::new();
        self.write_json(&mut writer);
        JsonValue::parse(&writer.bytes).unwrap_or(JsonValue::Null)
    }

    /// The value of an object member that is absent: `None` means the member is required
    /// (the default); `Option<T>` gives `Some(None)`.
    fn absent() -> Option<Self> {
        None
    }

    /// Reads the value from JSON text that holds nothing else.
    fn from_json_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let value = JsonValue::parse(bytes)?;
        Self::from_json(&value)
    }

    /// The value as compact JSON text.
    fn to_json_string(&self) -> String {
        let mut writer = JsonWriter::new();
        self.write_json(&mut writer);
        writer.into_string()
    }
}

impl JsonCodable for JsonValue {
    fn from_json(value: &JsonValue) -> Result<Self, DecodeError> {
        Ok(value.clone())
    }
    fn write_json(&self, out: &mut JsonWriter) {
        out.value(self)
    }
    fn to_json(&self) -> JsonValue {
        self.clone()
    }
}

impl JsonCodable for String {
    fn from_json(value: &JsonValue) -> Result<Self, DecodeError> {
        match value {
            JsonValue::String(text) => Ok(text.clone()),
            other => Err(DecodeError::expected("a String", other)),
        }
    }
    fn write_json(&self, out: &mut JsonWriter) {
        out.string(self)
    }
    fn to_json(&self) -> JsonValue {
        JsonValue::String(self.clone())
    }
}

/// A number that is not an integer, or an integer beyond 64 bits, for Int and Long.
fn integer_error(name: &str, value: &JsonValue) -> DecodeError {
    match value {
        JsonValue::Double(number) if number.fract() == 0.0 => {
            DecodeError::new(format!("integer out of range for {}", name))
        }
        other => DecodeError::expected(&format!("an integer ({})", name), other),
    }
}

impl JsonCodable for i32 {
    fn from_json(value: &JsonValue) -> Result<Self, DecodeError> {
        match value {
            JsonValue::Int(number) => {
                if *number >= i32::MIN as i64 && *number <= i32::MAX as i64 {
                    Ok(*number as i32)
                } else {
                    Err(DecodeError::new(format!("integer {} out of range for Int (32 bits)", number)))
                }
            }
            other => Err(integer_error("Int", other)),
        }
    }
    fn write_json(&self, out: &mut JsonWriter) {
        out.int(*self as i64)
    }
    fn to_json(&self) -> JsonValue {
        JsonValue::Int(*self as i64)
    }
}

impl JsonCodable for i64 {
    fn from_json(value: &JsonValue) -> Result<Self, DecodeError> {
        match value {
            JsonValue::Int(number) => Ok(*number),
            other => Err(integer_error("Long", other)),
        }
    }
    fn write_json(&self, out: &mut JsonWriter) {
        out.int(*self)
    }
    fn to_json(&self) -> JsonValue {
        JsonValue::Int(*self)
    }
}

impl JsonCodable for f64 {
    fn from_json(value: &JsonValue) -> Result<Self, DecodeError> {
        match value {
            JsonValue::Int(number) => Ok(*number as f64),
            JsonValue::Double(number) => Ok(*number),
            other => Err(DecodeError::expected("a number (Double)", other)),
        }
    }
    fn write_json(&self, out: &mut JsonWriter) {
        out.double(*self)
    }
    fn to_json(&self) -> JsonValue {
        if self.is_finite() {
            JsonValue::Double(*self)
        } else {
            JsonValue::Null
        }
    }
}

impl JsonCodable for f32 {
    fn from_json(value: &JsonValue) -> Result<Self, DecodeError> {
        let number = match value {
            JsonValue::Int(number) => *number as f64,
            JsonValue::Double(number) => *number,
            other => return Err(DecodeError::expected("a number (Float)", other)),
        };
        let narrow = number as f32;
        if narrow.is_finite() {
            Ok(narrow)
        } else {
            Err(DecodeError::new("number out of range for Float (32 bits)"))
        }
    }
    fn write_json(&self, out: &mut JsonWriter) {
        out.float(*self)
    }
    fn to_json(&self) -> JsonValue {
        // The double nearest to the float's shortest decimal form, so that it is
        // written as `0.1` again.
        let mut writer = JsonWriter::new();
        writer.float(*self);
        JsonValue::parse(&writer.bytes).unwrap_or(JsonValue::Null)
    }
}

impl JsonCodable for bool {
    fn from_json(value: &JsonValue) -> Result<Self, DecodeError> {
        match value {
            JsonValue::Bool(flag) => Ok(*flag),
            other => Err(DecodeError::expected("a Bool", other)),
        }
    }
    fn write_json(&self, out: &mut JsonWriter) {
        out.bool(*self)
    }
    fn to_json(&self) -> JsonValue {
        JsonValue::Bool(*self)
    }
}

/// ESDL `Bytes`: a base64 string.
impl JsonCodable for Vec<u8> {
    fn from_json(value: &JsonValue) -> Result<Self, DecodeError> {
        match value {
            JsonValue::String(text) => {
                base64_decode(text.as_bytes()).ok_or_else(|| DecodeError::new("invalid base64 (Bytes)"))
            }
            other => Err(DecodeError::expected("a base64 string (Bytes)", other)),
        }
    }
    fn write_json(&self, out: &mut JsonWriter) {
        out.base64(self)
    }
}

/// ESDL `[T]`: an array.
impl<T: JsonCodable> JsonCodable for Vec<T> {
    fn from_json(value: &JsonValue) -> Result<Self, DecodeError> {
        match value {
            JsonValue::Array(elements) => {
                let mut result = Vec::with_capacity(elements.len());
                for (index, element) in elements.iter().enumerate() {
                    result.push(T::from_json(element).map_err(|error| error.at_index(index))?);
                }
                Ok(result)
            }
            other => Err(DecodeError::expected("an array", other)),
        }
    }
    fn write_json(&self, out: &mut JsonWriter) {
        out.begin_array();
        for element in self {
            out.element();
            element.write_json(out);
        }
        out.end_array();
    }
}

/// ESDL `T?`: `null` or absent is `None`; `None` is written as `null`.
impl<T: JsonCodable> JsonCodable for Option<T> {
    fn from_json(value: &JsonValue) -> Result<Self, DecodeError> {
        match value {
            JsonValue::Null => Ok(None),
            other => T::from_json(other).map(Some),
        }
    }
    fn write_json(&self, out: &mut JsonWriter) {
        match self {
            Some(value) => value.write_json(out),
            None => out.null(),
        }
    }
    fn to_json(&self) -> JsonValue {
        match self {
            Some(value) => value.to_json(),
            None => JsonValue::Null,
        }
    }
    fn absent() -> Option<Self> {
        Some(None)
    }
}

/// A boxed value (recursive custom types) has the form of the value.
impl<T: JsonCodable> JsonCodable for Box<T> {
    fn from_json(value: &JsonValue) -> Result<Self, DecodeError> {
        T::from_json(value).map(Box::new)
    }
    fn write_json(&self, out: &mut JsonWriter) {
        (**self).write_json(out)
    }
    fn to_json(&self) -> JsonValue {
        (**self).to_json()
    }
    fn absent() -> Option<Self> {
        T::absent().map(Box::new)
    }
}

/// The members of a JSON object, read by key; the generated records use it.
///
/// ```ignore
/// let fields = Fields::of(value)?;
/// Ok(DepositedFunds { amount: fields.get("amount")? })
/// ```
#[derive(Clone, Copy)]
pub struct Fields<'a> {
    members: &'a [(String, JsonValue)],
}

impl<'a> Fields<'a> {
    /// The members of `value`, which must be an object.
    pub fn of(value: &'a JsonValue) -> Result<Fields<'a>, DecodeError> {
        match value {
            JsonValue::Object(members) => Ok(Fields { members }),
            other => Err(DecodeError::expected("an object", other)),
        }
    }

    /// The member at `key` (the first one with that key), decoded; absent members are
    /// `None` for `Option` types and an error otherwise.
    pub fn get<T: JsonCodable>(&self, key: &str) -> Result<T, DecodeError> {
        for (member_key, value) in self.members {
            if member_key == key {
                return T::from_json(value).map_err(|error| error.at_key(key));
            }
        }
        T::absent().ok_or_else(|| DecodeError::new(format!("missing field '{}'", key)))
    }
}

// MARK: - Context

/// Where a message came from: the command being handled, or the event being applied.
///
/// Its text borrows the call's argument memory: read what you need inside the handler or
/// `apply`, do not keep the context.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    /// The message id (a UUID in text form).
    pub id: &'a str,
    /// The stream the message is in (`bankAccount-123`, `bankAccount:command-123`).
    pub stream_name: &'a str,
    /// Position of the message in its stream, or -1 when the command did not come from a
    /// stream (it was executed directly).
    pub position: i64,
    /// Position of the message in the whole store, or -1.
    pub global_position: i64,
    /// The message's metadata, a JSON object.
    pub metadata: Metadata<'a>,
    /// When the message was written: microseconds since 1970-01-01T00:00:00Z.
    pub time: i64,
}

impl<'a> Context<'a> {
    /// Whether this message was already handled: its position is at or before `sequence`,
    /// the last position the entity has seen from the same stream.
    ///
    /// Always `false` when `sequence` is `None` or when the message has no position (-1,
    /// a command executed directly rather than read from the command stream).
    pub fn processed(&self, sequence: Option<i64>) -> bool {
        match sequence {
            Some(sequence) if self.position >= 0 => self.position <= sequence,
            _ => false,
        }
    }
}

/// A message's metadata: a JSON object with Eventide's camelCase keys
/// (`causationMessagePosition`, `correlationStreamName`, …).
#[derive(Clone, Copy, Debug)]
pub struct Metadata<'a> {
    /// The metadata as JSON text (`{}` when the message has none).
    pub json: &'a str,
}

impl<'a> Metadata<'a> {
    /// The metadata parsed, or `None` if it is not valid JSON.
    pub fn value(&self) -> Option<JsonValue> {
        JsonValue::parse(self.json.as_bytes()).ok()
    }

    /// The member at a top-level key, or `None` when it is missing or `null`.
    pub fn get(&self, key: &str) -> Option<JsonValue> {
        match self.value()? {
            JsonValue::Object(members) => {
                members.into_iter().find(|(k, _)| k == key).map(|(_, v)| v).filter(|v| !v.is_null())
            }
            _ => None,
        }
    }

    /// The integer at a top-level key, or `None` when it is missing, `null`, or not an
    /// integer: `ctx.metadata.int64("causationMessagePosition")`.
    pub fn int64(&self, key: &str) -> Option<i64> {
        self.get(key)?.as_i64()
    }

    /// The string at a top-level key, or `None` when it is missing, `null`, or not a string.
    pub fn string(&self, key: &str) -> Option<String> {
        match self.get(key)? {
            JsonValue::String(text) => Some(text),
            _ => None,
        }
    }

    /// The boolean at a top-level key, or `None` when it is missing or not a boolean.
    pub fn bool(&self, key: &str) -> Option<bool> {
        self.get(key)?.as_bool()
    }
}

// MARK: - Errors

/// Why a command produced no events, or why an event could not be applied: the contract's
/// `error` variant (the tags are its case numbers).
///
/// Handlers return the first two; the generated code returns the others.
#[derive(Clone, Debug, PartialEq)]
pub enum AggregateError {
    /// 0: the aggregate rejects the command (a domain rule); the message is shown to the caller.
    Command(String),
    /// 1: the command is a no-op for this entity (for example a repeated delivery).
    Ignore(Option<String>),
    /// 2: the command payload could not be read.
    DeserializeCommand(String),
    /// 3: an event payload could not be read.
    DeserializeEvent(String),
    /// 4: no handler for this command.
    UnknownCommand,
    /// 5: no `apply` for this event type.
    UnknownEvent,
}

impl AggregateError {
    /// Rejects the command: `Err(AggregateError::fatal("insufficient funds"))`.
    pub fn fatal<M: Into<String>>(message: M) -> AggregateError {
        AggregateError::Command(message.into())
    }

    /// Ignores the command, for a reason.
    pub fn ignore<M: Into<String>>(reason: M) -> AggregateError {
        AggregateError::Ignore(Some(reason.into()))
    }

    /// The case number in the contract's `error` variant.
    pub fn tag(&self) -> u8 {
        match self {
            AggregateError::Command(_) => 0,
            AggregateError::Ignore(_) => 1,
            AggregateError::DeserializeCommand(_) => 2,
            AggregateError::DeserializeEvent(_) => 3,
            AggregateError::UnknownCommand => 4,
            AggregateError::UnknownEvent => 5,
        }
    }
}

impl fmt::Display for AggregateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AggregateError::Command(message) => write!(f, "command rejected: {}", message),
            AggregateError::Ignore(Some(reason)) => write!(f, "ignored: {}", reason),
            AggregateError::Ignore(None) => f.write_str("ignored"),
            AggregateError::DeserializeCommand(message) => write!(f, "cannot read the command: {}", message),
            AggregateError::DeserializeEvent(message) => write!(f, "cannot read the event: {}", message),
            AggregateError::UnknownCommand => f.write_str("unknown command"),
            AggregateError::UnknownEvent => f.write_str("unknown event"),
        }
    }
}

/// Reads a command payload; an error becomes [`AggregateError::DeserializeCommand`].
///
/// The generated command decoder calls it with a closure that reads the parameters.
pub fn decode_command<T, F: FnOnce(Fields) -> Result<T, DecodeError>>(
    payload: &[u8],
    read: F,
) -> Result<T, AggregateError> {
    let value = JsonValue::parse(payload).map_err(|error| AggregateError::DeserializeCommand(error.to_string()))?;
    Fields::of(&value)
        .and_then(read)
        .map_err(|error| AggregateError::DeserializeCommand(error.to_string()))
}

/// Reads an event payload; an error becomes [`AggregateError::DeserializeEvent`].
pub fn decode_event<E: JsonCodable>(payload: &[u8]) -> Result<E, AggregateError> {
    E::from_json_bytes(payload).map_err(|error| AggregateError::DeserializeEvent(error.to_string()))
}

// MARK: - Events and the module

/// An event type generated from ESDL: its name on the wire and its JSON form.
pub trait Event: JsonCodable {
    /// The event type as written in the ESDL file, e.g. `DepositedFunds`.
    const EVENT_TYPE: &'static str;
}

/// The events a handler returned, in order, encoded as they are pushed.
pub struct EventList {
    writer: JsonWriter,
    /// Per event: its type, and where its payload is in `writer` (start, length).
    entries: Vec<(&'static str, usize, usize)>,
}

impl EventList {
    /// An empty list.
    pub fn new() -> EventList {
        EventList { writer: JsonWriter::new(), entries: Vec::new() }
    }

    /// Encodes and appends an event.
    pub fn push<E: Event>(&mut self, event: E) {
        let start = self.writer.bytes.len();
        event.write_json(&mut self.writer);
        self.entries.push((E::EVENT_TYPE, start, self.writer.bytes.len() - start));
    }

    /// The number of events.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The event at `index`: its type and JSON payload.
    pub fn get(&self, index: usize) -> Option<(&str, &str)> {
        let (event_type, start, len) = *self.entries.get(index)?;
        Some((event_type, std::str::from_utf8(&self.writer.bytes[start..start + len]).ok()?))
    }
}

impl Default for EventList {
    fn default() -> EventList {
        EventList::new()
    }
}

/// The glue between the exports and one aggregate; the generated code implements it for
/// `<Aggregate>Module` and passes that type to [`thalo_exports!`](crate::thalo_exports).
pub trait AggregateModule {
    /// The author's aggregate type.
    type Entity;

    /// A new entity with the given id.
    fn new_entity(id: &str) -> Self::Entity;

    /// Decodes one recorded event by type and applies it.
    fn apply(entity: &mut Self::Entity, event_type: &[u8], payload: &[u8], ctx: &Context) -> Result<(), AggregateError>;

    /// Decodes a command by name, runs its handler and pushes the events it returns.
    fn handle(
        entity: &Self::Entity,
        command: &[u8],
        payload: &[u8],
        ctx: &Context,
        events: &mut EventList,
    ) -> Result<(), AggregateError>;

    /// The entity's state view, or `None` when the aggregate has none.
    fn state(entity: &Self::Entity) -> Option<JsonValue>;

    /// The entity as JSON for a snapshot, which [`restore`](AggregateModule::restore) turns
    /// back into the same entity; `None` (the default) when the aggregate takes none.
    fn snapshot(_entity: &Self::Entity) -> Option<JsonValue> {
        None
    }

    /// A new entity in the state `snapshot` described, as if it had applied the same
    /// events. An error (the default) makes the host rebuild the entity from its events.
    fn restore(_id: &str, _snapshot: &JsonValue) -> Result<Self::Entity, DecodeError> {
        Err(DecodeError::new("this aggregate does not restore snapshots"))
    }

    /// Whether the runtime may apply events before they are written (contract 1.2):
    /// `abi-version` then answers 2 and commands queued for one entity run as a batch.
    const APPLIES_UNWRITTEN_EVENTS: bool = false;
}

/// The live entities of a module instance, keyed by the handles given to the host.
///
/// Handles are slot numbers plus one (0 is never a handle); a dropped entity's slot is
/// reused by the next `insert`.
pub struct EntityTable<E> {
    slots: Vec<Option<E>>,
    free: Vec<u32>,
}

impl<E> EntityTable<E> {
    /// An empty table.
    pub const fn new() -> EntityTable<E> {
        EntityTable { slots: Vec::new(), free: Vec::new() }
    }

    /// The number of live entities.
    pub fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// Stores an entity and returns its handle.
    pub fn insert(&mut self, entity: E) -> u32 {
        if let Some(slot) = self.free.pop() {
            self.slots[slot as usize] = Some(entity);
            return slot + 1;
        }
        self.slots.push(Some(entity));
        self.slots.len() as u32
    }

    /// Releases the entity with this handle; unknown handles are ignored.
    pub fn remove(&mut self, handle: u32) {
        let slot = handle.wrapping_sub(1) as usize;
        if let Some(entry) = self.slots.get_mut(slot) {
            if entry.take().is_some() {
                self.free.push(slot as u32);
            }
        }
    }

    /// The entity with this handle. An unknown handle is a host bug: the module traps.
    pub fn get(&self, handle: u32) -> &E {
        match self.slots.get(handle.wrapping_sub(1) as usize) {
            Some(Some(entity)) => entity,
            _ => panic!("unknown entity handle"),
        }
    }

    /// The entity with this handle, to change it; traps on an unknown handle.
    pub fn get_mut(&mut self, handle: u32) -> &mut E {
        match self.slots.get_mut(handle.wrapping_sub(1) as usize) {
            Some(Some(entity)) => entity,
            _ => panic!("unknown entity handle"),
        }
    }
}

// MARK: - Argument memory

/// Argument memory: blocks the host obtains through `cabi_realloc` before a call. They are
/// carved from one 64 KiB chunk that lives as long as the instance; larger or more
/// aligned blocks are allocated on their own. Every export releases them all before it
/// returns (`reset_arguments`), so nothing is freed block by block.
struct Arena {
    chunk: *mut u8,
    used: usize,
    large: Vec<(*mut u8, Layout)>,
}

const ARENA_CHUNK: usize = 64 * 1024;
const ARENA_ALIGN: usize = 8;

static mut ARENA: Arena = Arena { chunk: std::ptr::null_mut(), used: 0, large: Vec::new() };

/// `cabi_realloc(old, old_size, align, new_size)`: memory for an argument of the next
/// call. The contract passes `old = 0`; a reallocation gets a new block with the old
/// content copied.
///
/// # Safety
/// Called by the host only, as the canonical ABI specifies.
pub unsafe fn cabi_realloc(old: *mut u8, old_size: usize, align: usize, new_size: usize) -> *mut u8 {
    let arena = &mut *std::ptr::addr_of_mut!(ARENA);
    let align = if align == 0 { 1 } else { align };
    let block = if new_size == 0 {
        align as *mut u8 // a non-null, aligned address for an empty block
    } else if align <= ARENA_ALIGN && new_size <= ARENA_CHUNK {
        if arena.chunk.is_null() {
            let layout = Layout::from_size_align_unchecked(ARENA_CHUNK, ARENA_ALIGN);
            arena.chunk = alloc::alloc(layout);
            if arena.chunk.is_null() {
                alloc::handle_alloc_error(layout);
            }
        }
        let start = (arena.used + align - 1) & !(align - 1);
        if start + new_size <= ARENA_CHUNK {
            arena.used = start + new_size;
            arena.chunk.add(start)
        } else {
            allocate_large(arena, new_size, align)
        }
    } else {
        allocate_large(arena, new_size, align)
    };
    if !old.is_null() && old_size > 0 && new_size > 0 {
        std::ptr::copy_nonoverlapping(old, block, old_size.min(new_size));
    }
    block
}

unsafe fn allocate_large(arena: &mut Arena, size: usize, align: usize) -> *mut u8 {
    let layout = match Layout::from_size_align(size, align) {
        Ok(layout) => layout,
        Err(_) => panic!("cabi_realloc: invalid alignment"),
    };
    let block = alloc::alloc(layout);
    if block.is_null() {
        alloc::handle_alloc_error(layout);
    }
    arena.large.push((block, layout));
    block
}

/// Releases all argument memory (the end of every export).
pub unsafe fn reset_arguments() {
    let arena = &mut *std::ptr::addr_of_mut!(ARENA);
    arena.used = 0;
    for (block, layout) in arena.large.drain(..) {
        alloc::dealloc(block, layout);
    }
}

// MARK: - Results

/// What a call returns, kept until the host calls post-return.
struct Results {
    /// Payloads, error messages, the state view and the snapshot.
    text: Vec<u8>,
    /// The `list<event>` of `handle` (16 bytes per event).
    list: Vec<[u32; 4]>,
    /// The events of `handle` before they are laid out in `list` (kept for its capacity).
    entries: Vec<(&'static str, usize, usize)>,
}

/// Buffers above this size are freed after the call instead of being kept for the next.
const KEPT_BUFFER_LIMIT: usize = 1 << 20;

static mut RESULTS: Results = Results { text: Vec::new(), list: Vec::new(), entries: Vec::new() };

/// The result area: 20 bytes used, 8-aligned.
static mut RESULT_AREA: [u64; 3] = [0; 3];

unsafe fn results() -> &'static mut Results {
    &mut *std::ptr::addr_of_mut!(RESULTS)
}

unsafe fn result_area() -> *mut u8 {
    std::ptr::addr_of_mut!(RESULT_AREA) as *mut u8
}

unsafe fn store_u8(base: *mut u8, offset: usize, value: u8) {
    *base.add(offset) = value;
}

unsafe fn store_u32(base: *mut u8, offset: usize, value: u32) {
    (base.add(offset) as *mut u32).write_unaligned(value);
}

unsafe fn load_u32(base: *const u8, offset: usize) -> u32 {
    (base.add(offset) as *const u32).read_unaligned()
}

unsafe fn load_i64(base: *const u8, offset: usize) -> i64 {
    (base.add(offset) as *const i64).read_unaligned()
}

/// `len` bytes at `pointer` (empty when `len` is 0, whatever the pointer).
unsafe fn bytes_at<'a>(pointer: *const u8, len: usize) -> &'a [u8] {
    if len == 0 {
        &[]
    } else {
        std::slice::from_raw_parts(pointer, len)
    }
}

/// Host text as `&str`. The host passes UTF-8; anything else is a host bug and traps.
unsafe fn str_at<'a>(pointer: *const u8, len: usize) -> &'a str {
    match std::str::from_utf8(bytes_at(pointer, len)) {
        Ok(text) => text,
        Err(_) => panic!("argument is not UTF-8"),
    }
}

/// Reads the (pointer, length) string at `offset` of a record.
unsafe fn string_field<'a>(base: *const u8, offset: usize) -> &'a [u8] {
    bytes_at(load_u32(base, offset) as usize as *const u8, load_u32(base, offset + 4) as usize)
}

/// Reads a 48-byte `context` record.
unsafe fn context_at<'a>(base: *const u8) -> Context<'a> {
    Context {
        id: str_at(load_u32(base, 0) as usize as *const u8, load_u32(base, 4) as usize),
        stream_name: str_at(load_u32(base, 8) as usize as *const u8, load_u32(base, 12) as usize),
        position: load_i64(base, 16),
        global_position: load_i64(base, 24),
        metadata: Metadata { json: str_at(load_u32(base, 32) as usize as *const u8, load_u32(base, 36) as usize) },
        time: load_i64(base, 40),
    }
}

/// Copies text into the result text buffer (cleared first) and returns its address.
unsafe fn result_text(text: &str) -> (u32, u32) {
    let results = results();
    results.text.clear();
    results.text.extend_from_slice(text.as_bytes());
    (results.text.as_ptr() as usize as u32, results.text.len() as u32)
}

/// Writes an `error` variant (16 bytes) at `target`.
unsafe fn write_error(error: &AggregateError, target: *mut u8) {
    store_u8(target, 0, error.tag());
    match error {
        AggregateError::Command(message)
        | AggregateError::DeserializeCommand(message)
        | AggregateError::DeserializeEvent(message) => {
            let (pointer, len) = result_text(message);
            store_u32(target, 4, pointer);
            store_u32(target, 8, len);
        }
        AggregateError::Ignore(Some(reason)) => {
            let (pointer, len) = result_text(reason);
            store_u8(target, 4, 1);
            store_u32(target, 8, pointer);
            store_u32(target, 12, len);
        }
        AggregateError::Ignore(None) => store_u8(target, 4, 0),
        AggregateError::UnknownCommand | AggregateError::UnknownEvent => {}
    }
}

// MARK: - The exports (generic half; `thalo_exports!` declares the functions)

/// `abi-version() -> u32`: 2 (contract 1.2) when the aggregate lets the runtime apply
/// events before they are written, else 1 (contract 1.1).
pub fn export_abi_version<M: AggregateModule>() -> u32 {
    if M::APPLIES_UNWRITTEN_EVENTS {
        2
    } else {
        1
    }
}

/// `new-entity(id) -> u32`.
///
/// # Safety
/// Called by the export glue with the host's arguments.
pub unsafe fn export_new_entity<M: AggregateModule>(
    table: &mut EntityTable<M::Entity>,
    id_pointer: *const u8,
    id_len: usize,
) -> u32 {
    let handle = table.insert(M::new_entity(str_at(id_pointer, id_len)));
    reset_arguments();
    handle
}

/// `drop-entity(u32)`.
///
/// # Safety
/// Called by the export glue with the host's arguments.
pub unsafe fn export_drop_entity<M: AggregateModule>(table: &mut EntityTable<M::Entity>, handle: u32) {
    table.remove(handle);
    reset_arguments();
}

/// `apply(entity, list<recorded-event>) -> result<_, error>`.
///
/// # Safety
/// Called by the export glue with the host's arguments.
pub unsafe fn export_apply<M: AggregateModule>(
    table: &mut EntityTable<M::Entity>,
    handle: u32,
    events: *const u8,
    count: usize,
) -> *mut u8 {
    let area = result_area();
    let entity = table.get_mut(handle);
    let mut outcome = Ok(());
    for index in 0..count {
        let event = events.add(index * 64);
        outcome = M::apply(entity, string_field(event, 0), string_field(event, 8), &context_at(event.add(16)));
        if outcome.is_err() {
            break;
        }
    }
    match outcome {
        Ok(()) => store_u8(area, 0, 0),
        Err(error) => {
            store_u8(area, 0, 1);
            write_error(&error, area.add(4));
        }
    }
    reset_arguments();
    area
}

/// `handle(entity, command, context) -> result<list<event>, error>`, flattened.
///
/// # Safety
/// Called by the export glue with the host's arguments.
#[allow(clippy::too_many_arguments)]
pub unsafe fn export_handle<M: AggregateModule>(
    table: &mut EntityTable<M::Entity>,
    handle: u32,
    command_pointer: *const u8,
    command_len: usize,
    payload_pointer: *const u8,
    payload_len: usize,
    id_pointer: *const u8,
    id_len: usize,
    stream_pointer: *const u8,
    stream_len: usize,
    position: i64,
    global_position: i64,
    metadata_pointer: *const u8,
    metadata_len: usize,
    time: i64,
) -> *mut u8 {
    let area = result_area();
    let results = results();
    let context = Context {
        id: str_at(id_pointer, id_len),
        stream_name: str_at(stream_pointer, stream_len),
        position,
        global_position,
        metadata: Metadata { json: str_at(metadata_pointer, metadata_len) },
        time,
    };
    // The list reuses the result buffers' capacity.
    let mut events = EventList {
        writer: JsonWriter { bytes: std::mem::take(&mut results.text) },
        entries: std::mem::take(&mut results.entries),
    };
    events.writer.bytes.clear();
    events.entries.clear();
    let outcome = M::handle(
        table.get(handle),
        bytes_at(command_pointer, command_len),
        bytes_at(payload_pointer, payload_len),
        &context,
        &mut events,
    );
    results.text = events.writer.bytes;
    results.entries = events.entries;
    results.list.clear();
    match outcome {
        Ok(()) => {
            // Payloads are addressed now that the text buffer stops growing.
            let base = results.text.as_ptr() as usize;
            for &(event_type, start, len) in results.entries.iter() {
                results.list.push([
                    event_type.as_ptr() as usize as u32,
                    event_type.len() as u32,
                    (base + start) as u32,
                    len as u32,
                ]);
            }
            results.entries.clear();
            store_u8(area, 0, 0);
            store_u32(area, 4, results.list.as_ptr() as usize as u32);
            store_u32(area, 8, results.list.len() as u32);
        }
        Err(error) => {
            results.entries.clear();
            store_u8(area, 0, 1);
            write_error(&error, area.add(4));
        }
    }
    reset_arguments();
    area
}

/// Writes an `option<string>` (or `option<list<u8>>`, the same layout) of JSON text at
/// `area`, the text in the result text buffer.
unsafe fn write_optional_json(value: Option<JsonValue>, area: *mut u8) {
    match value {
        Some(value) => {
            let results = results();
            let mut writer = JsonWriter { bytes: std::mem::take(&mut results.text) };
            writer.bytes.clear();
            writer.value(&value);
            results.text = writer.bytes;
            store_u8(area, 0, 1);
            store_u32(area, 4, results.text.as_ptr() as usize as u32);
            store_u32(area, 8, results.text.len() as u32);
        }
        None => store_u8(area, 0, 0),
    }
}

/// `state(entity) -> option<string>`.
///
/// # Safety
/// Called by the export glue with the host's arguments.
pub unsafe fn export_state<M: AggregateModule>(table: &mut EntityTable<M::Entity>, handle: u32) -> *mut u8 {
    let area = result_area();
    write_optional_json(M::state(table.get(handle)), area);
    reset_arguments();
    area
}

/// `snapshot(entity) -> option<list<u8>>`: the module's snapshot as JSON text.
///
/// # Safety
/// Called by the export glue with the host's arguments.
pub unsafe fn export_snapshot<M: AggregateModule>(table: &mut EntityTable<M::Entity>, handle: u32) -> *mut u8 {
    let area = result_area();
    write_optional_json(M::snapshot(table.get(handle)), area);
    reset_arguments();
    area
}

/// `restore(id, list<u8>) -> result<u32, error>`: reads the bytes as JSON, restores an
/// entity from them and returns its new handle; bytes that are not JSON, or that the
/// module's `restore` refuses, are a `deserialize-event` error.
///
/// # Safety
/// Called by the export glue with the host's arguments.
pub unsafe fn export_restore<M: AggregateModule>(
    table: &mut EntityTable<M::Entity>,
    id_pointer: *const u8,
    id_len: usize,
    snapshot_pointer: *const u8,
    snapshot_len: usize,
) -> *mut u8 {
    let area = result_area();
    let restored = JsonValue::parse(bytes_at(snapshot_pointer, snapshot_len))
        .map_err(DecodeError::from)
        .and_then(|snapshot| M::restore(str_at(id_pointer, id_len), &snapshot));
    match restored {
        Ok(entity) => {
            let handle = table.insert(entity);
            store_u8(area, 0, 0);
            store_u32(area, 4, handle);
        }
        Err(error) => {
            store_u8(area, 0, 1);
            write_error(&AggregateError::DeserializeEvent(format!("invalid snapshot: {}", error)), area.add(4));
        }
    }
    reset_arguments();
    area
}

/// `cabi_post_…`: the host has copied the result out.
///
/// # Safety
/// Called by the host only.
pub unsafe fn export_post_return(_result: *mut u8) {
    let results = results();
    results.text.clear();
    results.list.clear();
    results.entries.clear();
    if results.text.capacity() > KEPT_BUFFER_LIMIT {
        results.text = Vec::new();
    }
    if results.list.capacity() * 16 > KEPT_BUFFER_LIMIT {
        results.list = Vec::new();
        results.entries = Vec::new();
    }
}

/// Declares the contract's exports (docs/module-contract.md) for a module type that
/// implements [`AggregateModule`], and its entity table. Use it once per crate, at the
/// end of the generated file: `crate::thalo_exports!(BankAccountModule);`.
///
/// The optional snapshot functions of contract 1.1 (`snapshot`, `restore` and their
/// `cabi_post_…`) are always exported; a module whose `snapshot` answers `None` simply
/// gets no snapshots.
///
/// The SDK must be the module `thalo` at the crate root.
#[macro_export]
macro_rules! thalo_exports {
    ($module:ty) => {
        static mut THALO_ENTITIES: $crate::thalo::EntityTable<<$module as $crate::thalo::AggregateModule>::Entity> =
            $crate::thalo::EntityTable::new();

        fn thalo_entities() -> &'static mut $crate::thalo::EntityTable<<$module as $crate::thalo::AggregateModule>::Entity> {
            unsafe { &mut *::std::ptr::addr_of_mut!(THALO_ENTITIES) }
        }

        #[export_name = "cabi_realloc"]
        pub unsafe extern "C" fn thalo_cabi_realloc(old: *mut u8, old_size: usize, align: usize, new_size: usize) -> *mut u8 {
            $crate::thalo::cabi_realloc(old, old_size, align, new_size)
        }

        #[export_name = "thalo:aggregate/aggregate@0.1.0#abi-version"]
        pub extern "C" fn thalo_abi_version() -> u32 {
            $crate::thalo::export_abi_version::<$module>()
        }

        #[export_name = "thalo:aggregate/aggregate@0.1.0#new-entity"]
        pub unsafe extern "C" fn thalo_new_entity(id: *const u8, id_len: usize) -> u32 {
            $crate::thalo::export_new_entity::<$module>(thalo_entities(), id, id_len)
        }

        #[export_name = "thalo:aggregate/aggregate@0.1.0#apply"]
        pub unsafe extern "C" fn thalo_apply(entity: u32, events: *const u8, count: usize) -> *mut u8 {
            $crate::thalo::export_apply::<$module>(thalo_entities(), entity, events, count)
        }

        #[export_name = "thalo:aggregate/aggregate@0.1.0#handle"]
        pub unsafe extern "C" fn thalo_handle(
            entity: u32,
            command: *const u8,
            command_len: usize,
            payload: *const u8,
            payload_len: usize,
            id: *const u8,
            id_len: usize,
            stream_name: *const u8,
            stream_name_len: usize,
            position: i64,
            global_position: i64,
            metadata: *const u8,
            metadata_len: usize,
            time: i64,
        ) -> *mut u8 {
            $crate::thalo::export_handle::<$module>(
                thalo_entities(), entity, command, command_len, payload, payload_len, id, id_len,
                stream_name, stream_name_len, position, global_position, metadata, metadata_len, time,
            )
        }

        #[export_name = "thalo:aggregate/aggregate@0.1.0#state"]
        pub unsafe extern "C" fn thalo_state(entity: u32) -> *mut u8 {
            $crate::thalo::export_state::<$module>(thalo_entities(), entity)
        }

        #[export_name = "thalo:aggregate/aggregate@0.1.0#drop-entity"]
        pub unsafe extern "C" fn thalo_drop_entity(entity: u32) {
            $crate::thalo::export_drop_entity::<$module>(thalo_entities(), entity)
        }

        #[export_name = "thalo:aggregate/aggregate@0.1.0#snapshot"]
        pub unsafe extern "C" fn thalo_snapshot(entity: u32) -> *mut u8 {
            $crate::thalo::export_snapshot::<$module>(thalo_entities(), entity)
        }

        #[export_name = "thalo:aggregate/aggregate@0.1.0#restore"]
        pub unsafe extern "C" fn thalo_restore(id: *const u8, id_len: usize, snapshot: *const u8, snapshot_len: usize) -> *mut u8 {
            $crate::thalo::export_restore::<$module>(thalo_entities(), id, id_len, snapshot, snapshot_len)
        }

        #[export_name = "cabi_post_thalo:aggregate/aggregate@0.1.0#apply"]
        pub unsafe extern "C" fn thalo_post_apply(result: *mut u8) {
            $crate::thalo::export_post_return(result)
        }

        #[export_name = "cabi_post_thalo:aggregate/aggregate@0.1.0#handle"]
        pub unsafe extern "C" fn thalo_post_handle(result: *mut u8) {
            $crate::thalo::export_post_return(result)
        }

        #[export_name = "cabi_post_thalo:aggregate/aggregate@0.1.0#state"]
        pub unsafe extern "C" fn thalo_post_state(result: *mut u8) {
            $crate::thalo::export_post_return(result)
        }

        #[export_name = "cabi_post_thalo:aggregate/aggregate@0.1.0#snapshot"]
        pub unsafe extern "C" fn thalo_post_snapshot(result: *mut u8) {
            $crate::thalo::export_post_return(result)
        }

        #[export_name = "cabi_post_thalo:aggregate/aggregate@0.1.0#restore"]
        pub unsafe extern "C" fn thalo_post_restore(result: *mut u8) {
            $crate::thalo::export_post_return(result)
        }
    };
}

/// What the author's files import with `use crate::*;` (the crate root re-exports it).
pub mod prelude {
    pub use super::{AggregateError, Context, Event, JsonCodable, JsonValue, Metadata};
}
