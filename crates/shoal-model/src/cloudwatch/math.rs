//! GetMetricData metric math, kept deliberately small: `+ - * /`, parentheses, unary
//! minus, numbers, query ids, `SUM/AVG/MIN/MAX(...)` over a list of series and
//! `METRICS()` / `METRICS("substring")`.
//!
//! Semantics follow CloudWatch's: an operation between two series keeps only the
//! timestamps present in both; a scalar applies to every point; the list functions
//! reduce point-wise across series (over the series that have a value at that
//! timestamp); results that are not finite (division by zero) are dropped.
//! Not supported (rejected with `ValidationError`): every other function
//! (`FILL`, `RATE`, `IF`, `SEARCH`, …).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::{AwsError, AwsResult};

/// A time series: values by timestamp, oldest first.
pub type Series = BTreeMap<DateTime<Utc>, f64>;

/// Evaluated value of an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum MathValue {
    Scalar(f64),
    Series(Series),
    /// Several series, e.g. `METRICS()`; only valid as a function argument.
    List(Vec<Series>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Ident(String),
    Str(String),
    Op(char),
    LParen,
    RParen,
    Comma,
    LBracket,
    RBracket,
}

/// Why an expression does not evaluate, in CloudWatch's words (after "Error in
/// expression `<id>`: ").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MathError {
    #[error("Syntax error.")]
    Syntax,
    #[error("Unterminated string.")]
    UnterminatedString,
    #[error("Invalid number {0}.")]
    InvalidNumber(String),
    #[error("Unrecognized character {0}.")]
    UnrecognizedCharacter(char),
    #[error("Unknown metric or expression id {0}.")]
    UnknownId(String),
    #[error("Unsupported function {0}.")]
    UnsupportedFunction(String),
    #[error("Arithmetic on a list of time series is not supported.")]
    ListArithmetic,
    #[error("The expression must return a single time series.")]
    NotASingleSeries,
}

fn tokenize(src: &str) -> Result<Vec<Tok>, MathError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' => i += 1,
            '+' | '-' | '*' | '/' => {
                out.push(Tok::Op(c));
                i += 1;
            }
            '(' => {
                out.push(Tok::LParen);
                i += 1;
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1;
            }
            '[' => {
                out.push(Tok::LBracket);
                i += 1;
            }
            ']' => {
                out.push(Tok::RBracket);
                i += 1;
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            '"' | '\'' => {
                let quote = c;
                let start = i + 1;
                i += 1;
                while i < chars.len() && chars[i] != quote {
                    i += 1;
                }
                if i >= chars.len() {
                    return Err(MathError::UnterminatedString);
                }
                out.push(Tok::Str(chars[start..i].iter().collect()));
                i += 1;
            }
            c if c.is_ascii_digit() || c == '.' => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                let s: String = chars[start..i].iter().collect();
                out.push(Tok::Num(s.parse().map_err(|_| MathError::InvalidNumber(s.clone()))?));
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                out.push(Tok::Ident(chars[start..i].iter().collect()));
            }
            other => return Err(MathError::UnrecognizedCharacter(other)),
        }
    }
    Ok(out)
}

/// Inputs visible to an expression: each query id with its series and label, in the
/// order of the request (`METRICS()` returns the metric-stat queries in that order).
pub struct MathContext<'a> {
    pub series: &'a [(String, String, Series)],
}

struct Parser<'a, 'c> {
    toks: Vec<Tok>,
    pos: usize,
    ctx: &'a MathContext<'c>,
}

impl Parser<'_, '_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn expect(&mut self, t: Tok) -> Result<(), MathError> {
        match self.next() {
            Some(ref got) if *got == t => Ok(()),
            _ => Err(MathError::Syntax),
        }
    }

    fn expr(&mut self) -> Result<MathValue, MathError> {
        let mut left = self.term()?;
        while let Some(Tok::Op(op @ ('+' | '-'))) = self.peek().cloned() {
            self.pos += 1;
            let right = self.term()?;
            left = binary(op, left, right)?;
        }
        Ok(left)
    }

    fn term(&mut self) -> Result<MathValue, MathError> {
        let mut left = self.factor()?;
        while let Some(Tok::Op(op @ ('*' | '/'))) = self.peek().cloned() {
            self.pos += 1;
            let right = self.factor()?;
            left = binary(op, left, right)?;
        }
        Ok(left)
    }

    fn factor(&mut self) -> Result<MathValue, MathError> {
        match self.next() {
            Some(Tok::Num(n)) => Ok(MathValue::Scalar(n)),
            Some(Tok::Op('-')) => {
                let v = self.factor()?;
                binary('*', MathValue::Scalar(-1.0), v)
            }
            Some(Tok::LParen) => {
                let v = self.expr()?;
                self.expect(Tok::RParen)?;
                Ok(v)
            }
            Some(Tok::LBracket) => {
                let mut list = Vec::new();
                loop {
                    match self.expr()? {
                        MathValue::Series(s) => list.push(s),
                        MathValue::List(l) => list.extend(l),
                        MathValue::Scalar(_) => return Err(MathError::Syntax),
                    }
                    match self.next() {
                        Some(Tok::Comma) => continue,
                        Some(Tok::RBracket) => break,
                        _ => return Err(MathError::Syntax),
                    }
                }
                Ok(MathValue::List(list))
            }
            Some(Tok::Ident(name)) => {
                if self.peek() == Some(&Tok::LParen) {
                    self.pos += 1;
                    self.call(&name)
                } else {
                    self.ctx
                        .series
                        .iter()
                        .find(|(id, _, _)| *id == name)
                        .map(|(_, _, s)| MathValue::Series(s.clone()))
                        .ok_or_else(|| MathError::UnknownId(name.clone()))
                }
            }
            _ => Err(MathError::Syntax),
        }
    }

    fn call(&mut self, name: &str) -> Result<MathValue, MathError> {
        match name {
            "METRICS" => {
                let filter = match self.next() {
                    Some(Tok::RParen) => None,
                    Some(Tok::Str(s)) => {
                        self.expect(Tok::RParen)?;
                        Some(s)
                    }
                    _ => return Err(MathError::Syntax),
                };
                let list = self
                    .ctx
                    .series
                    .iter()
                    .filter(|(_, label, _)| {
                        filter.as_ref().is_none_or(|f| label.contains(f.as_str()))
                    })
                    .map(|(_, _, s)| s.clone())
                    .collect();
                Ok(MathValue::List(list))
            }
            "SUM" | "AVG" | "MIN" | "MAX" => {
                let arg = self.expr()?;
                self.expect(Tok::RParen)?;
                let list = match arg {
                    MathValue::List(l) => l,
                    MathValue::Series(s) => vec![s],
                    MathValue::Scalar(v) => return Ok(MathValue::Scalar(v)),
                };
                Ok(MathValue::Series(reduce(name, &list)))
            }
            other => Err(MathError::UnsupportedFunction(other.to_string())),
        }
    }
}

fn reduce(func: &str, list: &[Series]) -> Series {
    let mut by_ts: BTreeMap<DateTime<Utc>, Vec<f64>> = BTreeMap::new();
    for s in list {
        for (ts, v) in s {
            by_ts.entry(*ts).or_default().push(*v);
        }
    }
    by_ts
        .into_iter()
        .map(|(ts, vs)| {
            let v = match func {
                "SUM" => vs.iter().sum(),
                "AVG" => vs.iter().sum::<f64>() / vs.len() as f64,
                "MIN" => vs.iter().copied().fold(f64::INFINITY, f64::min),
                _ => vs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            };
            (ts, v)
        })
        .collect()
}

fn apply(op: char, a: f64, b: f64) -> f64 {
    match op {
        '+' => a + b,
        '-' => a - b,
        '*' => a * b,
        _ => a / b,
    }
}

fn binary(op: char, left: MathValue, right: MathValue) -> Result<MathValue, MathError> {
    let keep = |s: Series| -> Series { s.into_iter().filter(|(_, v)| v.is_finite()).collect() };
    Ok(match (left, right) {
        (MathValue::Scalar(a), MathValue::Scalar(b)) => MathValue::Scalar(apply(op, a, b)),
        (MathValue::Series(s), MathValue::Scalar(b)) => {
            MathValue::Series(keep(s.into_iter().map(|(t, a)| (t, apply(op, a, b))).collect()))
        }
        (MathValue::Scalar(a), MathValue::Series(s)) => {
            MathValue::Series(keep(s.into_iter().map(|(t, b)| (t, apply(op, a, b))).collect()))
        }
        (MathValue::Series(a), MathValue::Series(b)) => MathValue::Series(keep(
            a.into_iter().filter_map(|(t, x)| b.get(&t).map(|y| (t, apply(op, x, *y)))).collect(),
        )),
        _ => return Err(MathError::ListArithmetic),
    })
}

/// Evaluates the expression of query `id`. Errors carry CloudWatch's framing
/// `Error in expression <id>: <reason>` as a `ValidationError`. A scalar result is
/// returned as `MathValue::Scalar` (CloudWatch then repeats it over the range).
pub fn evaluate(id: &str, expression: &str, ctx: &MathContext<'_>) -> AwsResult<MathValue> {
    let err = |m: MathError| AwsError::validation(format!("Error in expression {id}: {m}"));
    let toks = tokenize(expression).map_err(err)?;
    let mut p = Parser { toks, pos: 0, ctx };
    let v = p.expr().map_err(err)?;
    if p.pos != p.toks.len() {
        return Err(err(MathError::Syntax));
    }
    if let MathValue::List(_) = v {
        return Err(err(MathError::NotASingleSeries));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn ts(m: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_040 + m * 60, 0).unwrap()
    }
    fn series(points: &[(i64, f64)]) -> Series {
        points.iter().map(|(m, v)| (ts(*m), *v)).collect()
    }

    #[test]
    fn expressions() {
        let inputs = vec![
            ("m1".to_string(), "errors".to_string(), series(&[(0, 2.0), (1, 4.0), (2, 0.0)])),
            ("m2".to_string(), "requests".to_string(), series(&[(0, 10.0), (1, 0.0), (3, 5.0)])),
        ];
        let ctx = MathContext { series: &inputs };
        fn check(ctx: &MathContext<'_>, expr: &str, want: Result<MathValue, &str>) {
            match (evaluate("e1", expr, ctx), want) {
                (Ok(got), Ok(w)) => assert_eq!(got, w, "{expr}"),
                (Err(e), Err(w)) => assert_eq!(e.message, w, "{expr}"),
                (g, w) => panic!("{expr}: got {g:?}, want {w:?}"),
            }
        }
        // m2 is 0 at minute 1: that quotient is dropped; minutes 2 and 3 are not in both.
        check(&ctx, "100 * m1 / m2", Ok(MathValue::Series(series(&[(0, 20.0)]))));
        check(&ctx, "m1 + m2", Ok(MathValue::Series(series(&[(0, 12.0), (1, 4.0)]))));
        check(&ctx, "-(m1 - 1)", Ok(MathValue::Series(series(&[(0, -1.0), (1, -3.0), (2, 1.0)]))));
        check(&ctx, "2 + 3 * 4", Ok(MathValue::Scalar(14.0)));
        check(
            &ctx,
            "SUM(METRICS())",
            Ok(MathValue::Series(series(&[(0, 12.0), (1, 4.0), (2, 0.0), (3, 5.0)]))),
        );
        check(
            &ctx,
            "MAX([m1, m2])",
            Ok(MathValue::Series(series(&[(0, 10.0), (1, 4.0), (2, 0.0), (3, 5.0)]))),
        );
        check(
            &ctx,
            "AVG(METRICS('err'))",
            Ok(MathValue::Series(series(&[(0, 2.0), (1, 4.0), (2, 0.0)]))),
        );
        check(
            &ctx,
            "MIN(METRICS())",
            Ok(MathValue::Series(series(&[(0, 2.0), (1, 0.0), (2, 0.0), (3, 5.0)]))),
        );
        check(&ctx, "m9 + 1", Err("Error in expression e1: Unknown metric or expression id m9."));
        check(&ctx, "RATE(m1)", Err("Error in expression e1: Unsupported function RATE."));
        check(&ctx, "m1 +", Err("Error in expression e1: Syntax error."));
        check(
            &ctx,
            "METRICS()",
            Err("Error in expression e1: The expression must return a single time series."),
        );
    }
}
