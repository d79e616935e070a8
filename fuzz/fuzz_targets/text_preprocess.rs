//! Text preprocessing as the text pipeline does it: spans (document and sentence) whose byte
//! ranges fall on char boundaries and agree with their char ranges, then the reference tokenizer's chunks of each span. Input
//! bytes that are not UTF-8 are read lossily (the API refuses them before this point).
#![no_main]

use libfuzzer_sys::fuzz_target;
use soyl_models::manifest::Task;
use soyl_models::text::spans::split;
use soyl_models::text::tokenize::TextTokenizer;
use soyl_models::text::Granularity;
use soyl_models::Repository;
use std::sync::OnceLock;

fn tokenizer() -> &'static TextTokenizer {
    static TOKENIZER: OnceLock<TextTokenizer> = OnceLock::new();
    TOKENIZER.get_or_init(|| {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/repository");
        let repo = Repository::load(&root).expect("models/repository loads");
        let manifest = repo
            .for_task(Task::TextSentiment)
            .expect("a text-sentiment model");
        TextTokenizer::load(manifest).expect("its tokenizer loads")
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let chars = text.chars().count();
    for granularity in [Granularity::Document, Granularity::Sentence] {
        for span in split(&text, granularity) {
            assert!(span.chars.start <= span.chars.end && span.chars.end <= chars);
            let slice = text.get(span.bytes.clone()).expect("spans cut at char boundaries");
            assert_eq!(slice.chars().count(), span.chars.len());
            let _ = tokenizer().chunks(slice);
        }
    }
});
