use proptest::prelude::*;
use serde_json::Number;

use super::*;
use crate::path::PatchPath;

fn path(attr: &str) -> AttrPath {
    AttrPath {
        schema: None,
        attr: attr.into(),
        sub_attr: None,
    }
}

fn sub(attr: &str, sub: &str) -> AttrPath {
    AttrPath {
        schema: None,
        attr: attr.into(),
        sub_attr: Some(sub.into()),
    }
}

fn cmp(p: AttrPath, op: CompareOp, value: CompValue) -> Filter {
    Filter::Compare { path: p, op, value }
}

fn s(v: &str) -> CompValue {
    CompValue::Str(v.into())
}

fn and(a: Filter, b: Filter) -> Filter {
    Filter::And(Box::new(a), Box::new(b))
}

fn or(a: Filter, b: Filter) -> Filter {
    Filter::Or(Box::new(a), Box::new(b))
}

fn check(input: &str, expected: Filter) {
    assert_eq!(Filter::parse(input), Ok(expected.clone()), "{input}");
    assert_eq!(
        Filter::parse(&expected.to_string()),
        Ok(expected),
        "round trip of {input}"
    );
}

#[test]
fn rfc_7644_examples_parse() {
    use CompareOp::*;
    check(
        r#"userName eq "bjensen""#,
        cmp(path("userName"), Eq, s("bjensen")),
    );
    check(
        r#"userName Eq "john@example.com""#,
        cmp(path("userName"), Eq, s("john@example.com")),
    );
    check(
        r#"name.familyName co "O'Malley""#,
        cmp(sub("name", "familyName"), Co, s("O'Malley")),
    );
    check(r#"userName sw "J""#, cmp(path("userName"), Sw, s("J")));
    check(
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
        cmp(
            AttrPath {
                schema: Some("urn:ietf:params:scim:schemas:core:2.0:User".into()),
                attr: "userName".into(),
                sub_attr: None,
            },
            Sw,
            s("J"),
        ),
    );
    check("title pr", Filter::Present(path("title")));
    check(
        r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
        cmp(sub("meta", "lastModified"), Gt, s("2011-05-13T04:42:34Z")),
    );
    check(
        r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
        cmp(sub("meta", "lastModified"), Ge, s("2011-05-13T04:42:34Z")),
    );
    check(
        r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
        cmp(sub("meta", "lastModified"), Lt, s("2011-05-13T04:42:34Z")),
    );
    check(
        r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
        cmp(sub("meta", "lastModified"), Le, s("2011-05-13T04:42:34Z")),
    );
    check(
        r#"title pr and userType eq "Employee""#,
        and(
            Filter::Present(path("title")),
            cmp(path("userType"), Eq, s("Employee")),
        ),
    );
    check(
        r#"title pr or userType eq "Intern""#,
        or(
            Filter::Present(path("title")),
            cmp(path("userType"), Eq, s("Intern")),
        ),
    );
    check(
        r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
        cmp(
            path("schemas"),
            Eq,
            s("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"),
        ),
    );
    check(
        r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
        and(
            cmp(path("userType"), Eq, s("Employee")),
            or(
                cmp(path("emails"), Co, s("example.com")),
                cmp(sub("emails", "value"), Co, s("example.org")),
            ),
        ),
    );
    check(
        r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
        and(
            cmp(path("userType"), Ne, s("Employee")),
            Filter::Not(Box::new(or(
                cmp(path("emails"), Co, s("example.com")),
                cmp(sub("emails", "value"), Co, s("example.org")),
            ))),
        ),
    );
    check(
        r#"userType eq "Employee" and (emails.type eq "work")"#,
        and(
            cmp(path("userType"), Eq, s("Employee")),
            cmp(sub("emails", "type"), Eq, s("work")),
        ),
    );
    let work_emails = Filter::ValuePath {
        path: path("emails"),
        filter: Box::new(and(
            cmp(path("type"), Eq, s("work")),
            cmp(path("value"), Co, s("@example.com")),
        )),
    };
    check(
        r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
        and(
            cmp(path("userType"), Eq, s("Employee")),
            work_emails.clone(),
        ),
    );
    check(
        r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
        or(
            work_emails,
            Filter::ValuePath {
                path: path("ims"),
                filter: Box::new(and(
                    cmp(path("type"), Eq, s("xmpp")),
                    cmp(path("value"), Co, s("@foo.com")),
                )),
            },
        ),
    );
}

#[test]
fn what_entra_and_okta_send_parses() {
    use CompareOp::*;
    check(
        r#"id eq "g1" and members[value eq "u1"]"#,
        and(
            cmp(path("id"), Eq, s("g1")),
            Filter::ValuePath {
                path: path("members"),
                filter: Box::new(cmp(path("value"), Eq, s("u1"))),
            },
        ),
    );
    check(
        r#"externalId eq "2f7f""#,
        cmp(path("externalId"), Eq, s("2f7f")),
    );
    check(
        r#"displayName eq "Group One""#,
        cmp(path("displayName"), Eq, s("Group One")),
    );
    check(
        "active eq true",
        cmp(path("active"), Eq, CompValue::Bool(true)),
    );
    check(
        "active eq False",
        cmp(path("active"), Eq, CompValue::Bool(false)),
    );
    check("x eq null", cmp(path("x"), Eq, CompValue::Null));
    check(
        "age gt 10",
        cmp(path("age"), Gt, CompValue::Num(Number::from(10))),
    );
    check(
        "score le -1.5e3",
        cmp(
            path("score"),
            Le,
            CompValue::Num(serde_json::from_str("-1.5e3").expect("number")),
        ),
    );
    check(
        r#"userName eq "a\"b\\c\u00e9""#,
        cmp(path("userName"), Eq, s("a\"b\\cé")),
    );
    check(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#,
        cmp(
            AttrPath {
                schema: Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".into()),
                attr: "employeeNumber".into(),
                sub_attr: None,
            },
            Eq,
            s("701984"),
        ),
    );
    check(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value pr",
        Filter::Present(AttrPath {
            schema: Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".into()),
            attr: "manager".into(),
            sub_attr: Some("value".into()),
        }),
    );
    check(
        "  NOT(title pr)  ",
        Filter::Not(Box::new(Filter::Present(path("title")))),
    );
}

#[test]
fn precedence_and_associativity() {
    let a = || cmp(path("a"), CompareOp::Eq, CompValue::Num(1.into()));
    let b = || cmp(path("b"), CompareOp::Eq, CompValue::Num(2.into()));
    let c = || cmp(path("c"), CompareOp::Eq, CompValue::Num(3.into()));
    check("a eq 1 or b eq 2 and c eq 3", or(a(), and(b(), c())));
    check("a eq 1 and b eq 2 and c eq 3", and(and(a(), b()), c()));
    check("a eq 1 or b eq 2 or c eq 3", or(or(a(), b()), c()));
    check("(a eq 1 or b eq 2) and c eq 3", and(or(a(), b()), c()));
}

#[test]
fn malformed_filters_are_refused() {
    for bad in [
        "",
        "userName",
        "userName eq",
        "userName eq bjensen",
        r#"userName xx "a""#,
        r#"(userName eq "a""#,
        r#"userName eq "a")"#,
        r#"userName eq "a" and"#,
        r#"emails[type eq "work""#,
        "a[b[c eq 1]]",
        "emails[x.y eq 1]",
        r#"userName eq "\q""#,
        "userName eq \"a\u{1}b\"",
        // U+0000 escaped: no value holds one (`resource::refuse_nul`), and
        // PostgreSQL cannot take one as text.
        r#"userName eq "a\u0000b""#,
        r#"emails[value eq "\u0000"]"#,
        "1abc eq 1",
        r#"userName eq "a" andx eq 1"#,
        r#"emails.value[type eq "work"]"#,
        r#"userNameeq "a""#,
        "x eq 01",
        "x eq 1e999999",
        "urn: eq 1",
    ] {
        assert!(
            matches!(Filter::parse(bad), Err(FilterError::Syntax { .. })),
            "{bad:?} gave {:?}",
            Filter::parse(bad)
        );
    }
}

#[test]
fn limits_are_enforced_without_exhausting_the_stack() {
    let long = format!(r#"userName eq "{}""#, "a".repeat(MAX_FILTER_LEN));
    assert_eq!(
        Filter::parse(&long),
        Err(FilterError::TooLong {
            max: MAX_FILTER_LEN
        })
    );
    let deep = format!("{}title pr{}", "(".repeat(17), ")".repeat(17));
    assert_eq!(
        Filter::parse(&deep),
        Err(FilterError::TooDeep {
            max: MAX_FILTER_DEPTH
        })
    );
    let ok = format!("{}title pr{}", "(".repeat(16), ")".repeat(16));
    assert!(Filter::parse(&ok).is_ok());
    let huge = "(".repeat(100_000);
    assert_eq!(
        Filter::parse(&huge),
        Err(FilterError::TooLong {
            max: MAX_FILTER_LEN
        })
    );
    let deep_not = "not (".repeat(20) + "a pr" + &")".repeat(20);
    assert_eq!(
        Filter::parse(&deep_not),
        Err(FilterError::TooDeep {
            max: MAX_FILTER_DEPTH
        })
    );
    let many = vec!["a pr"; MAX_FILTER_TERMS + 1].join(" or ");
    assert_eq!(
        Filter::parse(&many),
        Err(FilterError::TooManyTerms {
            max: MAX_FILTER_TERMS
        })
    );
    let brackets_in_strings = format!(r#"a eq "{}""#, "(".repeat(100));
    assert!(Filter::parse(&brackets_in_strings).is_ok());
    // An escaped quote does not end the string: the brackets after it are in it.
    let after_an_escape = format!(r#"a eq "\"{}""#, "(".repeat(100));
    assert!(Filter::parse(&after_an_escape).is_ok());
    // A string that never ends holds the rest: a syntax error, not depth.
    let unterminated = format!(r#"a eq "{}"#, "(".repeat(100));
    assert!(matches!(
        Filter::parse(&unterminated),
        Err(FilterError::Syntax { .. })
    ));
}

#[test]
fn syntax_errors_say_where() {
    let Err(FilterError::Syntax { position, near, .. }) = Filter::parse(r#"userName zz "a""#)
    else {
        panic!("syntax error expected")
    };
    // peg reports the furthest point it reached: at or just after the bad operator.
    assert!((9..=11).contains(&position), "{position}");
    assert!(near.starts_with("zz") || near.starts_with(" \""), "{near}");
}

#[test]
fn patch_paths_parse() {
    let cases: &[(&str, PatchPath)] = &[
        ("members", PatchPath::Attr(path("members"))),
        (
            "name.familyName",
            PatchPath::Attr(sub("name", "familyName")),
        ),
        (
            r#"emails[type eq "work"].value"#,
            PatchPath::Filtered {
                path: path("emails"),
                filter: cmp(path("type"), CompareOp::Eq, s("work")),
                sub_attr: Some("value".into()),
            },
        ),
        (
            r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#,
            PatchPath::Filtered {
                path: path("members"),
                filter: cmp(
                    path("value"),
                    CompareOp::Eq,
                    s("2819c223-7f76-453a-919d-413861904646"),
                ),
                sub_attr: None,
            },
        ),
        (
            r#"roles[primary eq "True"].value"#,
            PatchPath::Filtered {
                path: path("roles"),
                filter: cmp(path("primary"), CompareOp::Eq, s("True")),
                sub_attr: Some("value".into()),
            },
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            PatchPath::Attr(AttrPath {
                schema: Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".into()),
                attr: "manager".into(),
                sub_attr: None,
            }),
        ),
        (
            "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName",
            PatchPath::Attr(AttrPath {
                schema: Some("urn:ietf:params:scim:schemas:core:2.0:User".into()),
                attr: "name".into(),
                sub_attr: Some("givenName".into()),
            }),
        ),
        (
            r#"emails[type eq "work" and primary eq true].value"#,
            PatchPath::Filtered {
                path: path("emails"),
                filter: and(
                    cmp(path("type"), CompareOp::Eq, s("work")),
                    cmp(path("primary"), CompareOp::Eq, CompValue::Bool(true)),
                ),
                sub_attr: Some("value".into()),
            },
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(PatchPath::parse(input).as_ref(), Ok(expected), "{input}");
        assert_eq!(
            PatchPath::parse(&expected.to_string()).as_ref(),
            Ok(expected),
            "round trip {input}"
        );
    }
    for bad in [
        "",
        "emails[",
        r#"emails[type eq "work"]value"#,
        "a.b.c",
        "emails[]",
        r#"emails[type eq "w"].a.b"#,
        "a b",
    ] {
        assert!(PatchPath::parse(bad).is_err(), "{bad:?}");
    }
}

fn arb_name() -> impl Strategy<Value = String> {
    "[a-zA-Z][a-zA-Z0-9_-]{0,8}"
}

fn arb_path() -> impl Strategy<Value = AttrPath> {
    (
        proptest::option::of(Just(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".to_owned(),
        )),
        arb_name(),
        proptest::option::of(arb_name()),
    )
        .prop_map(|(schema, attr, sub_attr)| AttrPath {
            schema,
            attr,
            sub_attr,
        })
}

fn arb_value() -> impl Strategy<Value = CompValue> {
    prop_oneof![
        any::<String>()
            .prop_map(|s| s.replace('\0', ""))
            .prop_map(CompValue::Str),
        any::<i64>().prop_map(|n| CompValue::Num(n.into())),
        any::<bool>().prop_map(CompValue::Bool),
        Just(CompValue::Null),
    ]
}

fn arb_op() -> impl Strategy<Value = CompareOp> {
    use CompareOp::*;
    prop::sample::select(vec![Eq, Ne, Co, Sw, Ew, Gt, Ge, Lt, Le])
}

fn arb_leaf(plain: bool) -> BoxedStrategy<Filter> {
    let p = if plain {
        arb_name().prop_map(|n| path(&n)).boxed()
    } else {
        arb_path().boxed()
    };
    prop_oneof![
        p.clone().prop_map(Filter::Present),
        (p, arb_op(), arb_value()).prop_map(|(path, op, value)| Filter::Compare {
            path,
            op,
            value
        }),
    ]
    .boxed()
}

fn arb_logic(leaf: BoxedStrategy<Filter>) -> impl Strategy<Value = Filter> {
    leaf.prop_recursive(4, 12, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| and(a, b)),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| or(a, b)),
            inner.prop_map(|f| Filter::Not(Box::new(f))),
        ]
    })
}

fn arb_filter() -> impl Strategy<Value = Filter> {
    let value_path =
        (arb_name(), arb_logic(arb_leaf(true))).prop_map(|(name, filter)| Filter::ValuePath {
            path: path(&name),
            filter: Box::new(filter),
        });
    let leaf = prop_oneof![3 => arb_leaf(false), 1 => value_path].boxed();
    arb_logic(leaf)
}

proptest! {
    #[test]
    fn display_then_parse_is_identity(filter in arb_filter()) {
        let text = filter.to_string();
        prop_assume!(text.len() <= MAX_FILTER_LEN);
        prop_assert_eq!(Filter::parse(&text), Ok(filter));
    }

    #[test]
    fn parse_never_panics(input in "\\PC{0,200}") {
        let _ = Filter::parse(&input);
        let _ = PatchPath::parse(&input);
    }

    #[test]
    fn parse_never_panics_on_filter_shaped_noise(
        tokens in prop::collection::vec(prop::sample::select(vec![
            "userName", "emails", "[", "]", "(", ")", " ", "eq", "and", "or", "not", "pr", "\"x\"", "1",
            "true", "urn:a:b", ".", ":", "\\", "\"", "value", "-", "$ref",
        ]), 0..40)
    ) {
        let input: String = tokens.concat();
        let _ = Filter::parse(&input);
        let _ = PatchPath::parse(&input);
    }
}

/// Found by `fuzz/` (scim_filter): a long integer literal parsed to one f64, printed,
/// and parsed back to its neighbour.
#[test]
fn huge_number_literals_print_and_parse_back_to_the_same_value() {
    for input in [
        "user eq 777777777777777777777777777777777777777777777777777777777777777777777777777777777777777",
        "x eq 23555555555555555555555555555555555555555555555555555555555555555555555555555",
        "x eq 1.7976931348623157e308",
        "x eq -0.000000000000000000000000000001",
    ] {
        let filter = Filter::parse(input).expect(input);
        assert_eq!(Filter::parse(&filter.to_string()), Ok(filter), "{input}");
    }
}

#[test]
fn a_path_with_a_character_across_byte_four_is_refused_not_a_panic() {
    // Byte 4 of "abcé" falls inside "é"; the URN check read it by byte index.
    for filter in ["abc\u{e9} eq \"x\"", "abc\u{e9}.x pr", "\u{e9}t\u{e9} eq 1"] {
        assert!(Filter::parse(filter).is_err(), "{filter}");
    }
    assert!(PatchPath::parse("abc\u{e9}").is_err());
}
