//! Cutting a text into the spans that get one reading each: the whole document, or its sentences
//! by the Unicode sentence-boundary rules (UAX #29, `unicode-segmentation`). Each span is trimmed
//! of surrounding whitespace and reported with both its byte range (to slice the `&str`) and its
//! character range (what results report). Called by [`super::TextPipeline`] on the blocking pool.
//!
//! Character offsets are Unicode scalar value (Rust `char`) indices: an emoji such as 👍 counts 1,
//! a letter followed by a combining mark counts 2, and CRLF counts 2. They are not UTF-16 code
//! units and not grapheme clusters; JavaScript callers slice with `Array.from(text)`, Python
//! callers with ordinary `str` indexing.

use super::Granularity;
use std::ops::Range;
use unicode_segmentation::UnicodeSegmentation;

/// One span of the original text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanRange {
    /// Byte range in the original text.
    pub bytes: Range<usize>,
    /// Character (Unicode scalar) range in the original text.
    pub chars: Range<usize>,
}

/// The non-blank spans of `text` at `granularity`, in order.
pub fn split(text: &str, granularity: Granularity) -> Vec<SpanRange> {
    let pieces: Vec<(usize, &str)> = match granularity {
        Granularity::Document => vec![(0, text)],
        Granularity::Sentence => text.split_sentence_bound_indices().collect(),
    };
    let mut chars = CharCursor::default();
    let mut spans = Vec::with_capacity(pieces.len());
    for (start, piece) in pieces {
        let trimmed = piece.trim_start();
        let begin = start + (piece.len() - trimmed.len());
        let end = begin + trimmed.trim_end().len();
        if begin == end {
            continue;
        }
        let char_begin = chars.advance(text, begin);
        let char_end = chars.advance(text, end);
        spans.push(SpanRange {
            bytes: begin..end,
            chars: char_begin..char_end,
        });
    }
    spans
}

/// Converts increasing byte offsets to char offsets in one pass over the text.
#[derive(Default)]
struct CharCursor {
    byte: usize,
    chars: usize,
}

impl CharCursor {
    fn advance(&mut self, text: &str, to_byte: usize) -> usize {
        self.chars += text[self.byte..to_byte].chars().count();
        self.byte = to_byte;
        self.chars
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slices(text: &str, g: Granularity) -> Vec<String> {
        split(text, g)
            .into_iter()
            .map(|s| {
                let by_chars: String = text
                    .chars()
                    .skip(s.chars.start)
                    .take(s.chars.len())
                    .collect();
                assert_eq!(
                    by_chars,
                    &text[s.bytes.clone()],
                    "char and byte ranges agree"
                );
                by_chars
            })
            .collect()
    }

    #[test]
    fn sentences_are_trimmed() {
        let got = slices("  One. Two!  Three?\n", Granularity::Sentence);
        assert_eq!(got, ["One.", "Two!", "Three?"]);
    }

    #[test]
    fn document_is_one_trimmed_span() {
        assert_eq!(
            slices("\t One. Two. ", Granularity::Document),
            ["One. Two."]
        );
    }

    #[test]
    fn blank_text_has_no_spans() {
        assert!(split(" \r\n\t", Granularity::Sentence).is_empty());
        assert!(split("", Granularity::Document).is_empty());
    }

    #[test]
    fn emoji_combining_marks_rtl_and_crlf_keep_char_offsets() {
        let text = "Great 👍🏽 day.\r\nCafe\u{301} is nice. שלום עולם. مرحبا!";
        let got = split(text, Granularity::Sentence);
        let chars: Vec<_> = got.iter().map(|s| s.chars.clone()).collect();
        // "Great 👍🏽 day." = 13 chars (the emoji and its skin tone are 2), then CRLF (2).
        assert_eq!(chars[0], 0..13);
        assert_eq!(chars[1], 15..29);
        assert_eq!(
            slices(text, Granularity::Sentence),
            [
                "Great 👍🏽 day.",
                "Cafe\u{301} is nice.",
                "שלום עולם.",
                "مرحبا!"
            ]
        );
    }
}
