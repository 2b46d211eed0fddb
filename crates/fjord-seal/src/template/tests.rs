use super::*;

fn items() -> BTreeMap<String, SecretValue> {
    let mut m = BTreeMap::new();
    m.insert("user".to_string(), SecretValue::new(b"svc".to_vec()));
    m.insert("tls.crt".to_string(), SecretValue::new(b"CERT".to_vec()));
    m.insert(
        "password".to_string(),
        SecretValue::new(b"hunter2-plaintext".to_vec()),
    );
    m.insert(
        "bin".to_string(),
        SecretValue::new(vec![0xff, 0x00, 0x80, b'a']),
    );
    m
}

fn r(t: &str) -> String {
    String::from_utf8(render(t, &items()).unwrap()).unwrap()
}

fn err(t: &str) -> Error {
    let e = render(t, &items()).unwrap_err();
    assert!(!e.to_string().contains("hunter2"), "{t}: {e}");
    e
}

#[test]
fn fields_index_comments_and_trimming() {
    assert_eq!(r("u={{ .user }};"), "u=svc;");
    assert_eq!(r("{{index . \"tls.crt\"}}"), "CERT");
    assert_eq!(r("a {{- /* c */ -}} b"), "ab");
    assert_eq!(r("x {{- .user }} y"), "xsvc y");
    assert_eq!(r("{{ .missing }}"), "<no value>");
    assert_eq!(r("{{ index . \"missing\" }}"), "");
    assert_eq!(r("no actions"), "no actions");
}

#[test]
fn common_secret_templates() {
    assert_eq!(
        r("postgres://{{ .user }}:{{ .password | urlquery }}@db:5432/app"),
        "postgres://svc:hunter2-plaintext@db:5432/app"
    );
    assert_eq!(
        r(r#"{{ printf "%s:%s" .user .password | b64enc }}"#),
        "c3ZjOmh1bnRlcjItcGxhaW50ZXh0"
    );
    assert_eq!(
        r(r#"{{ dict "auths" (dict "r.io" (dict "username" .user)) | toJson }}"#),
        r#"{"auths":{"r.io":{"username":"svc"}}}"#
    );
    assert_eq!(
        r("{{ range $k, $v := . }}{{ $k }} {{ end }}"),
        "bin password tls.crt user "
    );
    assert_eq!(
        r(r#"{{ if eq .user "svc" }}yes{{ else }}no{{ end }}"#),
        "yes"
    );
}

#[test]
fn binary_items_pass_through_byte_for_byte() {
    let out = render("<{{ .bin }}>", &items()).unwrap();
    assert_eq!(out, [b'<', 0xff, 0x00, 0x80, b'a', b'>']);
    assert_eq!(r("{{ .bin | b64enc }}"), "/wCAYQ==");
    assert_eq!(
        render("{{ b64dec \"/wCAYQ==\" }}", &items()).unwrap(),
        [0xff, 0x00, 0x80, b'a']
    );
}

#[test]
fn errors_name_position_and_function_but_never_values() {
    match err("line one\n  {{ upper 1 }}") {
        Error::Template {
            line,
            column,
            reason,
            unsupported,
        } => {
            // The offending argument: line 2, byte column 12.
            assert_eq!((line, column), (2, 12));
            assert!(reason.contains("expected string"), "{reason}");
            assert!(!unsupported);
        }
        e => panic!("{e:?}"),
    }
    let e = err("{{ .password | atoi | repeat .password }}");
    assert!(e.to_string().contains("line 1"), "{e}");
    // fail's message could be built from a value: it is not repeated.
    let e = err("{{ fail .password }}");
    assert!(e.to_string().contains("fail"), "{e}");
    // Regexp patterns can come from values: parse errors do not quote them.
    let e = err("{{ regexFind (printf \"(%s\" .password) \"x\" }}");
    assert!(e.to_string().contains("regexFind"), "{e}");
    let e = err("{{ range .password }}{{ end }}");
    assert!(e.to_string().contains("string"), "{e}");
    let e = err("{{ index .password 99 }}");
    assert!(e.to_string().contains("index out of range"), "{e}");
    let e = err("{{ .password.field }}");
    assert!(e.to_string().contains("field"), "{e}");
    let e = err("{{ printf \"%s\" .password | int | eq \"x\" }}");
    assert!(e.to_string().contains("incompatible types"), "{e}");
}

#[test]
fn parse_errors_are_reported_even_in_branches_not_taken() {
    err("{{ if false }}{{ nosuchfunction }}{{ end }}");
    err("{{ if false }}{{ $undefined }}{{ end }}");
    err("{{ if true }}unclosed");
    err("{{ end }}");
    err("{{ break }}");
    err("{{ .user ");
    // Refused functions only fail when they run, as Go runs them.
    assert_eq!(r("{{ if false }}{{ uuidv4 }}{{ end }}ok"), "ok");
}

#[test]
fn refused_constructs_say_so() {
    for t in [
        "{{ uuidv4 }}",
        "{{ htpasswd .user .password }}",
        "{{ randAlphaNum 8 }}",
        "{{ now }}",
        "{{ genPrivateKey \"rsa\" }}",
        "{{ define \"x\" }}y{{ end }}",
        "{{ template \"x\" }}",
        "{{ block \"x\" . }}y{{ end }}",
        "{{ 1i }}",
    ] {
        match err(t) {
            Error::Template {
                unsupported: true, ..
            } => {}
            e => panic!("{t}: {e:?}"),
        }
    }
}

#[test]
fn env_functions_are_absent() {
    for t in [
        "{{ env \"HOME\" }}",
        "{{ expandenv \"$HOME\" }}",
        "{{ getHostByName \"x\" }}",
    ] {
        let e = err(t);
        assert!(e.to_string().contains("not defined"), "{t}: {e}");
    }
}

#[test]
fn limits_stop_runaway_templates() {
    err("{{ repeat 1000000000 \"xxxxxxxxxx\" }}");
    err(
        "{{ range until 1000 }}{{ range until 1000 }}{{ range until 1000 }}{{ end }}{{ end }}{{ end }}",
    );
    err("{{ range 100000000000 }}{{ end }}");
    err("{{ until 100000000000 }}");
    err("{{ printf \"%999999999d\" 1 }}");
    err("{{ indent 100000000 \"a\\nb\\nc\" }}");
    let e = err("{{ $d := dict }}{{ $_ := set $d \"d\" $d }}{{ $d }}");
    assert!(e.to_string().contains("nested"), "{e}");
    // Go's JSON encoder reports a cycle; Sprig's toJson turns that into "".
    assert_eq!(
        r("{{ $d := dict }}{{ $_ := set $d \"d\" $d }}{{ toJson $d }}|"),
        "|"
    );
}

#[test]
fn deep_nesting_is_bounded_without_overflowing_the_stack() {
    let depth = 199;
    let parens = format!(
        "{{{{ {}1{} }}}}",
        "(print ".repeat(depth),
        ")".repeat(depth)
    );
    assert_eq!(r(&parens), "1");
    let ifs = format!(
        "{}x{}",
        "{{ if 1 }}".repeat(depth),
        "{{ end }}".repeat(depth)
    );
    assert_eq!(r(&ifs), "x");
    let withs = format!(
        "{}{{{{ $.user }}}}{}",
        "{{ with . }}".repeat(depth),
        "{{ end }}".repeat(depth)
    );
    assert_eq!(r(&withs), "svc");
    let too_deep = format!("{{{{ {}1{} }}}}", "(".repeat(5000), ")".repeat(5000));
    err(&too_deep);
    let too_deep = format!("{}x{}", "{{ if 1 }}".repeat(5000), "{{ end }}".repeat(5000));
    err(&too_deep);
}

#[test]
fn deeply_nested_values_drop_without_overflowing_the_stack() {
    assert_eq!(
        r("{{ $l := list }}{{ range until 200000 }}{{ $l = list $l }}{{ end }}{{ len $l }}"),
        "1"
    );
    assert_eq!(
        r("{{ $d := dict }}{{ range until 200000 }}{{ $d = dict \"d\" $d }}{{ end }}{{ len $d }}"),
        "1"
    );
    err("{{ $l := list }}{{ range until 200000 }}{{ $l = list $l }}{{ end }}{{ $l }}");
    assert_eq!(
        r("{{ $l := list }}{{ range until 200000 }}{{ $l = list $l }}{{ end }}{{ toJson $l }}|"),
        "|"
    );
}
