//! No template or item value may make rendering panic, hang or leak values into errors.

use std::collections::BTreeMap;

use fjord_seal::SecretValue;
use proptest::prelude::*;

const SECRET: &str = "s3cr3t-VALUE";

fn items(extra: Vec<u8>) -> BTreeMap<String, SecretValue> {
    let mut m = BTreeMap::new();
    m.insert(
        "password".to_string(),
        SecretValue::new(SECRET.as_bytes().to_vec()),
    );
    m.insert(
        "json".to_string(),
        SecretValue::new(br#"{"a":[1,{"b":null}],"c":"x"}"#.to_vec()),
    );
    m.insert("bin".to_string(), SecretValue::new(extra));
    m
}

/// Pieces that make up plausible and implausible templates.
fn piece() -> impl Strategy<Value = String> {
    let fixed = prop::sample::select(vec![
        "{{",
        "}}",
        "{{- ",
        " -}}",
        "{{/*",
        "*/}}",
        " ",
        ".",
        ".password",
        ".bin",
        ".json",
        "$",
        "$x",
        ":=",
        "=",
        "|",
        "(",
        ")",
        ",",
        "\"",
        "`",
        "'",
        "\\",
        "-",
        "1",
        "0",
        "-1",
        "1.5",
        "1e3",
        "0x1f",
        "'a'",
        "nil",
        "true",
        "if",
        "else",
        "end",
        "range",
        "with",
        "break",
        "continue",
        "define",
        "template",
        "block",
        "and",
        "or",
        "not",
        "len",
        "index",
        "print",
        "printf",
        "println",
        "urlquery",
        "html",
        "js",
        "eq",
        "ne",
        "lt",
        "le",
        "gt",
        "ge",
        "slice",
        "\"%v %d %s %q %x %5.2f %*d %\"",
        "upper",
        "lower",
        "title",
        "repeat",
        "substr",
        "trunc",
        "abbrev",
        "abbrevboth",
        "initials",
        "snakecase",
        "camelcase",
        "kebabcase",
        "swapcase",
        "wrap",
        "wrapWith",
        "indent",
        "nindent",
        "replace",
        "b64enc",
        "b64dec",
        "b32enc",
        "b32dec",
        "sha256sum",
        "adler32sum",
        "default",
        "empty",
        "coalesce",
        "ternary",
        "toJson",
        "toPrettyJson",
        "fromJson",
        "list",
        "dict",
        "get",
        "set",
        "unset",
        "hasKey",
        "keys",
        "values",
        "join",
        "split",
        "splitList",
        "splitn",
        "first",
        "last",
        "rest",
        "initial",
        "append",
        "concat",
        "uniq",
        "until",
        "atoi",
        "int",
        "int64",
        "float64",
        "add",
        "sub",
        "mul",
        "div",
        "mod",
        "max",
        "regexMatch",
        "regexFind",
        "regexFindAll",
        "regexReplaceAll",
        "regexSplit",
        "uuidv4",
        "fail",
        "quote",
        "cat",
        "plural",
        "trim",
        "trimAll",
        "nospace",
        "toString",
        "toStrings",
        "sortAlpha",
        "has",
        "without",
        "\"a,b\"",
        "\",\"",
        "\"\"",
        "\"(\"",
        "\"[0-9]+\"",
        "\"$1\"",
        "100000",
        "-100000",
        "\n",
        "é",
        "\u{0130}",
    ])
    .prop_map(str::to_string);
    prop_oneof![8 => fixed, 1 => ".{0,6}"]
}

fn template() -> impl Strategy<Value = String> {
    prop::collection::vec(piece(), 0..40).prop_map(|v| v.join(""))
}

fn func() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "upper",
        "lower",
        "title",
        "repeat",
        "substr",
        "trunc",
        "abbrev",
        "abbrevboth",
        "initials",
        "snakecase",
        "camelcase",
        "kebabcase",
        "swapcase",
        "wrap",
        "wrapWith",
        "indent",
        "nindent",
        "replace",
        "b64enc",
        "b64dec",
        "b32enc",
        "b32dec",
        "sha256sum",
        "sha1sum",
        "sha512sum",
        "adler32sum",
        "default",
        "empty",
        "coalesce",
        "ternary",
        "toJson",
        "toPrettyJson",
        "toRawJson",
        "fromJson",
        "list",
        "dict",
        "get",
        "set",
        "unset",
        "hasKey",
        "keys",
        "values",
        "join",
        "split",
        "splitList",
        "splitn",
        "first",
        "last",
        "rest",
        "initial",
        "append",
        "prepend",
        "concat",
        "uniq",
        "compact",
        "reverse",
        "until",
        "atoi",
        "int",
        "int64",
        "float64",
        "add",
        "add1",
        "sub",
        "mul",
        "div",
        "mod",
        "max",
        "min",
        "regexMatch",
        "regexFind",
        "regexFindAll",
        "regexReplaceAll",
        "regexReplaceAllLiteral",
        "regexSplit",
        "quote",
        "squote",
        "cat",
        "plural",
        "trim",
        "trimAll",
        "trimPrefix",
        "trimSuffix",
        "nospace",
        "toString",
        "toStrings",
        "sortAlpha",
        "has",
        "without",
        "slice",
        "and",
        "or",
        "not",
        "len",
        "index",
        "print",
        "printf",
        "println",
        "urlquery",
        "html",
        "js",
        "eq",
        "ne",
        "lt",
        "le",
        "gt",
        "ge",
        "kindOf",
        "typeOf",
        "contains",
        "hasPrefix",
        "hasSuffix",
        "untitle",
        "uuidv4",
        "fail",
    ])
}

fn arg() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(vec![
        ".",
        "$",
        ".password",
        ".bin",
        ".json",
        ".missing",
        ".json.a",
        "$v",
        "nil",
        "true",
        "false",
        "0",
        "1",
        "2",
        "-3",
        "7",
        "1.5",
        "1e300",
        "'x'",
        "\"\"",
        "\"a\"",
        "\",\"",
        "\"%v-%d-%s-%q-%x-%08.3f\"",
        "\"(a)(b)?\"",
        "\"$1$2\"",
        "\"\\n\"",
        "(list 1 \"a\" nil)",
        "(dict \"a\" 1 \"b\" (list 2))",
        "(fromJson .json)",
        "(until 5)",
        "9223372036854775807",
        "-9223372036854775808",
    ])
    .prop_map(str::to_string);
    leaf.prop_recursive(3, 24, 4, |inner| {
        (func(), prop::collection::vec(inner, 0..4))
            .prop_map(|(f, args)| format!("({f} {})", args.join(" ")))
    })
}

fn action() -> impl Strategy<Value = String> {
    (prop::collection::vec((func(), prop::collection::vec(arg(), 0..4)), 1..4), any::<u8>()).prop_map(|(cmds, k)| {
        let pipe: Vec<String> = cmds.iter().map(|(f, a)| format!("{f} {}", a.join(" "))).collect();
        let pipe = pipe.join(" | ");
        match k % 6 {
            0 => format!("{{{{ $v := {pipe} }}}}{{{{ $v }}}}"),
            1 => format!("{{{{ if {pipe} }}}}y{{{{ else }}}}n{{{{ end }}}}"),
            2 => format!("{{{{ range $k, $v := {pipe} }}}}[{{{{ $k }}}}={{{{ $v }}}}]{{{{ else }}}}none{{{{ end }}}}"),
            3 => format!("{{{{ with {pipe} }}}}<{{{{ . }}}}>{{{{ end }}}}"),
            _ => format!("{{{{ {pipe} }}}}"),
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_pipelines_never_panic(acts in prop::collection::vec(action(), 1..4), bin in prop::collection::vec(any::<u8>(), 0..24)) {
        let t = format!("{{{{ $v := 0 }}}}{}", acts.join(""));
        match fjord_seal::template::render(&t, &items(bin)) {
            Ok(_) => {}
            Err(e) => prop_assert!(!e.to_string().contains(SECRET), "{}", e),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_templates_never_panic(t in template(), bin in prop::collection::vec(any::<u8>(), 0..24)) {
        match fjord_seal::template::render(&t, &items(bin)) {
            Ok(_) => {}
            Err(e) => prop_assert!(!e.to_string().contains(SECRET)),
        }
    }

    #[test]
    fn arbitrary_text_never_panics(t in "\\PC{0,80}") {
        let _ = fjord_seal::template::render(&t, &items(Vec::new()));
    }

    #[test]
    fn actions_over_arbitrary_bytes_never_panic(bin in prop::collection::vec(any::<u8>(), 0..40), f in prop::sample::select(vec![
        "upper", "lower", "title", "untitle", "swapcase", "nospace", "initials", "snakecase", "camelcase",
        "kebabcase", "trim", "b64dec", "b32dec", "fromJson", "quote", "toJson", "js", "html", "urlquery",
        "splitList \"\"", "replace \"\" \"-\"", "wrap 3", "wrapWith 2 \"|\"", "abbrev 5", "abbrevboth 5 9",
        "trimAll \"a\"", "regexSplit \"\"  -1", "regexFindAll \".\" -1", "printf \"%q|%x|%10.3s|%v\"", "atoi", "int",
    ])) {
        let t = format!("{{{{ .bin | {f} }}}}");
        let _ = fjord_seal::template::render(&t, &items(bin));
    }
}
