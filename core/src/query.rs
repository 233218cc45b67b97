//! Permission queries (DESIGN.md §4, `keys.verifyKey`'s `permissions`): `a`, `a AND b`,
//! `(a OR b) AND c`. AND binds tighter than OR; operators are case-insensitive whole words;
//! names match exactly (`*` is a literal character, not a wildcard).
//!
//! Grammar (whitespace separates tokens):
//! ```text
//! query   := and ( OR and )*
//! and     := primary ( AND primary )*
//! primary := NAME | '(' query ')'
//! NAME    := [A-Za-z0-9._\-*:/]+   (except the words AND / OR; wire::is_permission_query_char)
//! ```
//! Parse errors are `invalid_input` on field `permissions`; their message always contains
//! `at position N`, N being the 0-based character position of the problem.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::wire::is_permission_query_char as is_permission_char;

/// Longest query accepted, in characters (Unkey's limit).
pub const MAX_QUERY_LEN: usize = crate::wire::limits::PERMISSION_QUERY_MAX_LEN;
/// Deepest parenthesis nesting accepted.
pub const MAX_QUERY_DEPTH: usize = 64;

/// A parsed permission query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PermissionQuery {
    /// Holds when this exact permission is granted.
    Permission(String),
    /// Holds when every part holds (an empty list holds).
    And(Vec<PermissionQuery>),
    /// Holds when at least one part holds (an empty list does not).
    Or(Vec<PermissionQuery>),
}

impl PermissionQuery {
    /// Parses `input`; same as [`parse_permission_query`].
    pub fn parse(input: &str) -> Result<PermissionQuery> {
        parse_permission_query(input)
    }

    /// Evaluates the query, asking `has` whether each named permission is granted
    /// (short-circuits).
    pub fn evaluate(&self, has: impl Fn(&str) -> bool + Copy) -> bool {
        match self {
            PermissionQuery::Permission(name) => has(name),
            PermissionQuery::And(parts) => parts.iter().all(|p| p.evaluate(has)),
            PermissionQuery::Or(parts) => parts.iter().any(|p| p.evaluate(has)),
        }
    }

    /// Evaluates the query against a list of granted permissions (exact string match).
    pub fn evaluate_set<S: AsRef<str>>(&self, granted: &[S]) -> bool {
        if granted.len() > 16 {
            let set: std::collections::HashSet<&str> = granted.iter().map(AsRef::as_ref).collect();
            self.evaluate(|p| set.contains(p))
        } else {
            self.evaluate(|p| granted.iter().any(|g| g.as_ref() == p))
        }
    }

    /// Every permission name the query mentions, without duplicates, in order of appearance.
    pub fn names(&self) -> Vec<&str> {
        fn walk<'a>(q: &'a PermissionQuery, out: &mut Vec<&'a str>) {
            match q {
                PermissionQuery::Permission(name) => {
                    if !out.contains(&name.as_str()) {
                        out.push(name);
                    }
                }
                PermissionQuery::And(parts) | PermissionQuery::Or(parts) => {
                    parts.iter().for_each(|p| walk(p, out))
                }
            }
        }
        let mut out = Vec::new();
        walk(self, &mut out);
        out
    }
}

/// Canonical form: names as they are, ` AND ` / ` OR ` in capitals, parentheses around an OR
/// inside an AND and around a group nested in a group of the same kind. For every query the
/// parser produces, printing and re-parsing gives an equal query.
impl fmt::Display for PermissionQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (parts, op) = match self {
            PermissionQuery::Permission(name) => return f.write_str(name),
            PermissionQuery::And(parts) => (parts, " AND "),
            PermissionQuery::Or(parts) => (parts, " OR "),
        };
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                f.write_str(op)?;
            }
            let wrap = !matches!(
                (self, part),
                (_, PermissionQuery::Permission(_))
                    | (PermissionQuery::Or(_), PermissionQuery::And(_))
            );
            if wrap {
                write!(f, "({part})")?;
            } else {
                write!(f, "{part}")?;
            }
        }
        Ok(())
    }
}

impl FromStr for PermissionQuery {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        parse_permission_query(s)
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Name(String),
    And,
    Or,
    Open,
    Close,
    End,
}

impl Token {
    fn describe(&self) -> String {
        match self {
            // A name in the wrong place could be a key pasted into the query: never echoed
            // unless it looks like a permission name.
            Token::Name(name) => format!("permission '{}'", crate::keyformat::shown_value(name)),
            Token::And => "AND".into(),
            Token::Or => "OR".into(),
            Token::Open => "'('".into(),
            Token::Close => "')'".into(),
            Token::End => "end of query".into(),
        }
    }
}

fn query_error(message: String) -> Error {
    Error::invalid_input("permissions", message)
}

fn tokenize(input: &str) -> Result<Vec<(Token, usize)>> {
    let mut tokens = Vec::new();
    let mut chars = input.chars().enumerate().peekable();
    while let Some((pos, c)) = chars.next() {
        match c {
            '(' => tokens.push((Token::Open, pos)),
            ')' => tokens.push((Token::Close, pos)),
            c if c.is_whitespace() => {}
            c if is_permission_char(c) => {
                let mut word = String::from(c);
                while let Some(&(_, next)) = chars.peek() {
                    if !is_permission_char(next) {
                        break;
                    }
                    word.push(next);
                    chars.next();
                }
                let token = if word.eq_ignore_ascii_case("and") {
                    Token::And
                } else if word.eq_ignore_ascii_case("or") {
                    Token::Or
                } else {
                    Token::Name(word)
                };
                tokens.push((token, pos));
            }
            c => {
                let shown = if c.is_control() {
                    format!("{:?}", c)
                } else {
                    format!("'{c}'")
                };
                return Err(query_error(format!(
                    "invalid character {shown} at position {pos}; permission names use letters, \
                     digits and . _ - * : /"
                )));
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<(Token, usize)>,
    next: usize,
    end: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> (&Token, usize) {
        match self.tokens.get(self.next) {
            Some((token, pos)) => (token, *pos),
            None => (&Token::End, self.end),
        }
    }

    fn unexpected(&self, expected: &str) -> Error {
        let (token, pos) = self.peek();
        query_error(format!(
            "unexpected {} at position {pos}; expected {expected}",
            token.describe()
        ))
    }

    fn query(&mut self) -> Result<PermissionQuery> {
        self.chain(&Token::Or, Self::and, PermissionQuery::Or)
    }

    fn and(&mut self) -> Result<PermissionQuery> {
        self.chain(&Token::And, Self::primary, PermissionQuery::And)
    }

    /// `part ( op part )*`, made into `join(parts)` when there is more than one part.
    fn chain(
        &mut self,
        op: &Token,
        part: fn(&mut Self) -> Result<PermissionQuery>,
        join: fn(Vec<PermissionQuery>) -> PermissionQuery,
    ) -> Result<PermissionQuery> {
        let mut parts = vec![part(self)?];
        while self.peek().0 == op {
            self.next += 1;
            parts.push(part(self)?);
        }
        Ok(if parts.len() == 1 {
            parts.pop().expect("one part")
        } else {
            join(parts)
        })
    }

    fn primary(&mut self) -> Result<PermissionQuery> {
        match self.peek() {
            (Token::Name(name), _) => {
                let name = name.clone();
                self.next += 1;
                Ok(PermissionQuery::Permission(name))
            }
            (Token::Open, pos) => {
                if self.depth >= MAX_QUERY_DEPTH {
                    return Err(query_error(format!(
                        "parentheses nested too deeply at position {pos} (at most {MAX_QUERY_DEPTH} levels)"
                    )));
                }
                self.depth += 1;
                self.next += 1;
                let inner = self.query()?;
                if !matches!(self.peek().0, Token::Close) {
                    return Err(self.unexpected("AND, OR or ')'"));
                }
                self.next += 1;
                self.depth -= 1;
                Ok(inner)
            }
            _ => Err(self.unexpected("a permission name or '('")),
        }
    }
}

/// Parses a permission query (see the module docs for the grammar). Errors are `invalid_input`
/// on field `permissions` with a message giving the 0-based character position, e.g.
/// `unexpected ')' at position 7; expected a permission name or '('`,
/// `unexpected end of query at position 12; …`, `invalid character '!' at position 3; …`.
/// An empty or whitespace-only query, or one longer than 1000 characters, is an error.
pub fn parse_permission_query(input: &str) -> Result<PermissionQuery> {
    let len = input.chars().count();
    if len > MAX_QUERY_LEN {
        return Err(query_error(format!(
            "permission query is too long ({len} characters, at most {MAX_QUERY_LEN}) at position {MAX_QUERY_LEN}"
        )));
    }
    let tokens = tokenize(input)?;
    if tokens.is_empty() {
        return Err(query_error(format!(
            "permission query is empty: expected a permission name at position {len}"
        )));
    }
    let mut parser = Parser {
        tokens,
        next: 0,
        end: len,
        depth: 0,
    };
    let query = parser.query()?;
    if parser.next < parser.tokens.len() {
        return Err(parser.unexpected("AND, OR or end of query"));
    }
    Ok(query)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str) -> PermissionQuery {
        PermissionQuery::Permission(name.into())
    }

    fn err_pos(input: &str) -> (usize, String) {
        let err = parse_permission_query(input).unwrap_err();
        assert_eq!(err.code(), "invalid_input");
        assert_eq!(err.field.as_deref(), Some("permissions"));
        let msg = err.message.clone();
        let pos = msg
            .split("at position ")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no position in {msg}"));
        (pos, msg)
    }

    #[test]
    fn precedence_and_grouping() {
        assert_eq!(parse_permission_query("a").unwrap(), p("a"));
        assert_eq!(
            parse_permission_query("a OR b AND c").unwrap(),
            PermissionQuery::Or(vec![p("a"), PermissionQuery::And(vec![p("b"), p("c")])])
        );
        assert_eq!(
            parse_permission_query("(a or b) and c").unwrap(),
            PermissionQuery::And(vec![PermissionQuery::Or(vec![p("a"), p("b")]), p("c")])
        );
        assert_eq!(
            parse_permission_query("a AnD b aNd c").unwrap(),
            PermissionQuery::And(vec![p("a"), p("b"), p("c")])
        );
        assert_eq!(parse_permission_query("((x.*))").unwrap(), p("x.*"));
        assert_eq!(
            parse_permission_query("a.b:c/d-e_f*").unwrap(),
            p("a.b:c/d-e_f*")
        );
        // Operators must be whole words.
        assert_eq!(parse_permission_query("android").unwrap(), p("android"));
        assert_eq!(parse_permission_query("ORacle").unwrap(), p("ORacle"));
    }

    #[test]
    fn errors_name_the_position() {
        assert_eq!(err_pos("a AND b)").0, 7);
        assert!(err_pos("a AND b)")
            .1
            .starts_with("unexpected ')' at position 7"));
        assert_eq!(err_pos("a AND (b OR").0, 11);
        assert!(err_pos("a AND (b OR").1.contains("unexpected end of query"));
        assert_eq!(err_pos("a !b").0, 2);
        assert!(err_pos("a !b")
            .1
            .starts_with("invalid character '!' at position 2"));
        assert_eq!(err_pos("").0, 0);
        assert_eq!(err_pos("   ").0, 3);
        assert_eq!(err_pos("a b").0, 2);
        assert_eq!(err_pos("AND a").0, 0);
        assert_eq!(err_pos("()").0, 1);
        assert_eq!(err_pos("(a").0, 2);
        assert_eq!(err_pos("é AND a").0, 0);
        assert_eq!(err_pos("a AND é").0, 6);
        assert_eq!(err_pos(&"a".repeat(1001)).0, 1000);
        assert!(parse_permission_query(&"a".repeat(1000)).is_ok());
        let deep = format!("{}a{}", "(".repeat(65), ")".repeat(65));
        assert_eq!(err_pos(&deep).0, 64);
        let ok = format!("{}a{}", "(".repeat(64), ")".repeat(64));
        assert_eq!(parse_permission_query(&ok).unwrap(), p("a"));
    }

    #[test]
    fn evaluation() {
        let q = parse_permission_query("(a OR b) AND c").unwrap();
        assert!(q.evaluate_set(&["a", "c"]));
        assert!(q.evaluate_set(&["b", "c"]));
        assert!(!q.evaluate_set(&["a", "b"]));
        assert!(!q.evaluate_set::<&str>(&[]));
        let star = parse_permission_query("docs.*").unwrap();
        assert!(!star.evaluate_set(&["docs.read"]));
        assert!(star.evaluate_set(&["docs.*"]));
        let many: Vec<String> = (0..100).map(|i| format!("p{i}")).collect();
        assert!(parse_permission_query("p5 AND p99")
            .unwrap()
            .evaluate_set(&many));
        assert!(!parse_permission_query("p5 AND p100")
            .unwrap()
            .evaluate_set(&many));
        assert!(PermissionQuery::And(vec![]).evaluate(|_| false));
        assert!(!PermissionQuery::Or(vec![]).evaluate(|_| true));
        assert_eq!(
            parse_permission_query("a AND (b OR a) AND c")
                .unwrap()
                .names(),
            ["a", "b", "c"]
        );
    }

    #[test]
    fn display_round_trips() {
        for input in [
            "a",
            "a AND b",
            "a or b and c",
            "(a OR b) AND c",
            "(a AND b) AND c",
            "a OR (b OR c)",
            "((a or b) and (c or (d and e))) or f",
            "x.* AND (y:z OR w/v)",
        ] {
            let q = parse_permission_query(input).unwrap();
            let printed = q.to_string();
            assert_eq!(
                parse_permission_query(&printed).unwrap(),
                q,
                "{input} -> {printed}"
            );
        }
        assert_eq!(
            parse_permission_query("(a or b) and c")
                .unwrap()
                .to_string(),
            "(a OR b) AND c"
        );
        assert_eq!(
            parse_permission_query("a or b and c").unwrap().to_string(),
            "a OR b AND c"
        );
    }

    #[test]
    fn arbitrary_utf8_never_panics() {
        for s in [
            "🔑",
            "a AND 🔑",
            "(((",
            ")))",
            "\u{0}",
            "a\u{3000}AND\u{3000}b",
            "ＡＮＤ",
            "a AND",
        ] {
            let _ = parse_permission_query(s);
        }
        // Unicode whitespace separates tokens.
        assert!(parse_permission_query("a\u{3000}AND\u{3000}b").is_ok());
    }
}
