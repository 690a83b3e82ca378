use super::*;

/// Text whose only characters outside ASCII separate tokens is read the cheap way, and
/// gives the tokens and folded forms that folding it character by character gives.
#[test]
fn ascii_words_between_other_separators_tokenize_as_when_folded() {
    for text in [
        "LONDON \u{2013} Officials said \u{201c}no\u{201d} to the satellite\u{2019}s launch",
        "Seoul\u{a0}\u{2014}\u{a0}North Korea\u{2026} 3\u{00b7}4 \u{2122}Tomahawk \u{00bb}sale\u{00ab}",
        "\u{2013}",
        "a\u{200d}b \u{3000}c",
    ] {
        let field_text = FieldText::new(Field::Summary, text);
        let (folded, tokens) = fold_tokens(text);
        let Some(field_text) = field_text else {
            assert!(tokens.is_empty(), "{text:?}");
            continue;
        };
        assert!(field_text.ascii, "{text:?} is read as ASCII");
        let cheap: Vec<(&str, &str)> = field_text
            .tokens()
            .iter()
            .map(|token| {
                (
                    &text[token.original.clone()],
                    &field_text.folded[token.folded.clone()],
                )
            })
            .collect();
        let careful: Vec<(&str, &str)> = tokens
            .iter()
            .map(|token| (&text[token.original.clone()], &folded[token.folded.clone()]))
            .collect();
        assert_eq!(cheap, careful, "{text:?}");
    }
    // A letter outside ASCII needs folding: not read the cheap way.
    let field_text = FieldText::new(Field::Summary, "Corée \u{2013} Séoul").expect("tokens");
    assert!(!field_text.ascii);
}
