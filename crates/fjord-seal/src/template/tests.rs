use super::*;

fn items() -> BTreeMap<String, SecretValue> {
    let mut m = BTreeMap::new();
    m.insert("user".to_string(), SecretValue::new(b"svc".to_vec()));
    m.insert("tls.crt".to_string(), SecretValue::new(b"CERT".to_vec()));
    m
}

fn r(t: &str) -> String {
    String::from_utf8(render(t, &items()).unwrap()).unwrap()
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
