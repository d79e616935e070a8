//! Audio decoding: any container and codec soyl accepts (WAV PCM/float, FLAC, MP3, Ogg Vorbis, AAC
//! in MP4/M4A) to mono `f32` samples at the file's own rate, within [`AudioLimits`]. Runs on the
//! blocking pool; called by the voice pipeline before resampling. Every failure is an
//! [`InputError`] with a stable code; nothing here panics on hostile bytes.

use crate::InputError;
use std::io::Cursor;
use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;

/// What audio the service accepts. Operators set these per deployment; inputs outside them fail
/// with a code, never by exhausting memory or time.
#[derive(Debug, Clone)]
pub struct AudioLimits {
    /// Longest audio in seconds: refused before decoding when the container declares more, and
    /// decoding stops (and fails) at this point otherwise. Default 600 (10 minutes).
    pub max_duration_s: f64,
    /// Most channels. Default 8.
    pub max_channels: u32,
    /// Lowest sample rate in Hz. Default 8,000.
    pub min_rate: u32,
    /// Highest sample rate in Hz. Default 192,000.
    pub max_rate: u32,
}

impl Default for AudioLimits {
    fn default() -> Self {
        AudioLimits {
            max_duration_s: 600.0,
            max_channels: 8,
            min_rate: 8_000,
            max_rate: 192_000,
        }
    }
}

/// Decoded audio, downmixed to mono.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// Mono samples, clamped to -1..1.
    pub samples: Vec<f32>,
    /// The file's sample rate in Hz.
    pub sample_rate: u32,
    /// The file's channel count.
    pub channels: u32,
}

/// Decode errors tolerated (and skipped) before a file counts as corrupt: a damaged MP3 frame or
/// two should not lose a whole recording.
const MAX_DECODE_ERRORS: usize = 8;

/// A file that decodes to less than this share of what its header declares was cut short.
const TRUNCATED_BELOW: f64 = 0.9;

fn corrupt(what: impl std::fmt::Display) -> InputError {
    InputError::new(
        "audio_corrupt",
        format!("the audio cannot be decoded: {what}"),
    )
}

/// Decodes the first audio track of `bytes` to mono.
pub fn decode(bytes: &[u8], limits: &AudioLimits) -> Result<Decoded, InputError> {
    if bytes.is_empty() {
        return Err(InputError::new(
            "input_empty",
            "the audio input is empty (0 bytes)",
        ));
    }
    let (kind, container) = super::container::start(bytes)?;
    super::mp4_tables::check(container)?;
    super::flac_metadata::check(container)?;
    if let Some(format) = super::wav_header::wav_format(container) {
        check_channels(u32::from(format.channels), limits)?;
        check_rate(format.sample_rate, limits)?;
    }
    let source = MediaSourceStream::new(
        Box::new(Cursor::new(container.to_vec())),
        Default::default(),
    );
    let options = FormatOptions {
        enable_gapless: true,
        ..Default::default()
    };
    let mut format = super::container::open(kind, source, &options).map_err(|e| match e {
        SymphoniaError::Unsupported(_) | SymphoniaError::IoError(_) => InputError::new(
            "media_unrecognized",
            "not a recognised audio format (accepted: WAV, FLAC, MP3, Ogg Vorbis, AAC in MP4/M4A)",
        ),
        other => corrupt(other),
    })?;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| InputError::new("audio_no_track", "the file has no audio track"))?;
    let track_id = track.id;
    let params = track.codec_params.clone();
    let rate = params
        .sample_rate
        .ok_or_else(|| corrupt("the audio track declares no sample rate"))?;
    check_rate(rate, limits)?;
    if let Some(channels) = params.channels {
        check_channels(channels.count() as u32, limits)?;
    }
    let max_frames = (limits.max_duration_s * f64::from(rate)).ceil() as u64;
    if let Some(declared) = params.n_frames.filter(|&n| n > max_frames) {
        let seconds = declared as f64 / f64::from(rate);
        return Err(too_long(
            format!("the file declares {seconds:.0} s"),
            limits,
        ));
    }
    let mut decoder = symphonia::default::get_codecs()
        .make(&params, &DecoderOptions::default())
        .map_err(|e| {
            InputError::new(
                "audio_unsupported_codec",
                format!("the audio codec is not supported: {e}"),
            )
        })?;

    let mut samples: Vec<f32> = Vec::new();
    let mut buffer: Option<SampleBuffer<f32>> = None;
    let mut channels = params.channels.map_or(0, |c| c.count() as u32);
    let mut errors = 0usize;
    loop {
        let packet = match format.next_packet() {
            Ok(packet) => packet,
            // End of stream, or the start of a chained Ogg stream: the first one is the recording.
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break
            }
            Err(SymphoniaError::ResetRequired) => break,
            Err(e) if samples.is_empty() => return Err(corrupt(e)),
            // Damage after good audio: keep what decoded; the length check below judges it.
            Err(_) => break,
        };
        if packet.track_id() != track_id {
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(decoded) => decoded,
            Err(SymphoniaError::DecodeError(_) | SymphoniaError::IoError(_))
                if errors < MAX_DECODE_ERRORS =>
            {
                errors += 1;
                continue;
            }
            Err(e) => return Err(corrupt(e)),
        };
        let spec = *decoded.spec();
        if spec.rate != rate {
            return Err(corrupt("the sample rate changes within the stream"));
        }
        let n_channels = spec.channels.count().max(1);
        check_channels(n_channels as u32, limits)?;
        channels = n_channels as u32;
        if decoded.frames() == 0 {
            continue;
        }
        let needed = decoded.capacity() as u64;
        let buf = match &mut buffer {
            Some(b) if b.capacity() as u64 >= needed * n_channels as u64 => b,
            _ => buffer.insert(SampleBuffer::new(needed, spec)),
        };
        buf.copy_interleaved_ref(decoded);
        let scale = 1.0 / n_channels as f32;
        samples.extend(buf.samples().chunks_exact(n_channels).map(|frame| {
            let mean = frame.iter().sum::<f32>() * scale;
            if mean.is_finite() {
                mean.clamp(-1.0, 1.0)
            } else {
                0.0
            }
        }));
        if samples.len() as u64 > max_frames {
            return Err(too_long("decoding reached the limit".into(), limits));
        }
    }
    if samples.is_empty() && errors > 0 {
        return Err(corrupt("no audio frame could be decoded"));
    }
    if let Some(declared) = params.n_frames {
        if (samples.len() as f64) < declared as f64 * TRUNCATED_BELOW {
            return Err(InputError::new(
                "audio_truncated",
                format!(
                    "the file declares {:.2} s of audio but only {:.2} s is present",
                    declared as f64 / f64::from(rate),
                    samples.len() as f64 / f64::from(rate)
                ),
            ));
        }
    }
    if let Some(edit) = super::mp4_edit::audio_edit(bytes) {
        apply_edit(&mut samples, edit, rate);
    }
    Ok(Decoded {
        samples,
        sample_rate: rate,
        channels,
    })
}

/// Drops encoder priming and padding as an MP4 edit list says.
fn apply_edit(samples: &mut Vec<f32>, edit: super::mp4_edit::Edit, rate: u32) {
    let to_samples = |s: f64| (s * f64::from(rate)).round().max(0.0) as usize;
    samples.drain(..to_samples(edit.skip_s).min(samples.len()));
    if edit.keep_s > 0.0 {
        samples.truncate(to_samples(edit.keep_s));
    }
}

fn check_channels(channels: u32, limits: &AudioLimits) -> Result<(), InputError> {
    if channels > limits.max_channels {
        return Err(InputError::new(
            "audio_too_many_channels",
            format!(
                "{channels} channels; at most {} are accepted",
                limits.max_channels
            ),
        ));
    }
    Ok(())
}

fn check_rate(rate: u32, limits: &AudioLimits) -> Result<(), InputError> {
    if !(limits.min_rate..=limits.max_rate).contains(&rate) {
        return Err(InputError::new(
            "audio_sample_rate_unsupported",
            format!(
                "sample rate {rate} Hz is outside the accepted {}..{} Hz",
                limits.min_rate, limits.max_rate
            ),
        ));
    }
    Ok(())
}

fn too_long(why: String, limits: &AudioLimits) -> InputError {
    InputError::new(
        "audio_too_long",
        format!(
            "the audio is longer than the accepted {:.0} s ({why})",
            limits.max_duration_s
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PCM WAV whose `fmt ` chunk says `channels`, `rate`, `block_align` and `bits`, followed by
    /// `data` (the hostile-corpus shapes, tests/hostile/make_corpus.py).
    fn wav(channels: u16, rate: u32, block_align: u16, bits: u16, data: &[u8]) -> Vec<u8> {
        let mut out = b"RIFF".to_vec();
        out.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
        out.extend_from_slice(b"WAVEfmt \x10\0\0\0\x01\0");
        out.extend_from_slice(&channels.to_le_bytes());
        out.extend_from_slice(&rate.to_le_bytes());
        out.extend_from_slice(&(rate * u32::from(block_align)).to_le_bytes());
        out.extend_from_slice(&block_align.to_le_bytes());
        out.extend_from_slice(&bits.to_le_bytes());
        out.extend_from_slice(b"data");
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(data);
        out
    }

    fn code(bytes: &[u8]) -> &'static str {
        match decode(bytes, &AudioLimits::default()) {
            Ok(_) => "ok",
            Err(e) => e.code,
        }
    }

    #[test]
    fn absurd_wav_headers_fail_with_codes_instead_of_panicking() {
        assert_eq!(
            code(&wav(1, 0, 2, 16, &[0; 64])),
            "audio_sample_rate_unsupported"
        );
        assert_eq!(
            code(&wav(1, 1, 2, 16, &[0; 64])),
            "audio_sample_rate_unsupported"
        );
        assert_eq!(code(&wav(1, 16_000, 0, 16, &[0; 64])), "audio_corrupt");
        assert_eq!(code(&wav(0, 16_000, 2, 16, &[0; 64])), "audio_corrupt");
        assert_eq!(code(&wav(1, 16_000, 2, 0, &[0; 64])), "audio_corrupt");
        assert_eq!(code(&wav(1, 16_000, 2, 16, &[0; 64])), "ok");
    }

    #[test]
    fn an_mp4_table_larger_than_its_box_is_refused_before_allocating() {
        let bomb = include_bytes!("../../../fuzz/seeds/audio_decode/stco_oom.m4a");
        assert_eq!(code(bomb), "audio_corrupt");
    }

    #[test]
    fn a_flac_comment_longer_than_its_block_is_refused_before_allocating() {
        let bomb = include_bytes!("../../../fuzz/seeds/audio_decode/comment_oom.flac");
        assert_eq!(code(bomb), "audio_corrupt");
    }

    #[test]
    fn an_mp4_box_larger_than_its_container_is_refused() {
        let wraps = include_bytes!("../../../fuzz/seeds/audio_decode/size_overflow.m4a");
        assert_eq!(code(wraps), "audio_corrupt");
        let bomb = include_bytes!("../../../fuzz/seeds/audio_decode/hdlr_oom.m4a");
        assert_eq!(code(bomb), "audio_corrupt");
    }

    #[test]
    fn a_container_behind_junk_is_not_searched_for() {
        let buried = include_bytes!("../../../fuzz/seeds/audio_decode/buried_flac");
        assert_eq!(code(buried), "media_unrecognized");
        let behind_sync = include_bytes!("../../../fuzz/seeds/audio_decode/flac_behind_mpeg_sync");
        assert_ne!(code(behind_sync), "ok");
    }

    #[test]
    fn a_metadata_atom_larger_than_its_item_is_refused_before_allocating() {
        let bomb = include_bytes!("../../../fuzz/seeds/audio_decode/ilst_data_oom.m4a");
        assert_eq!(code(bomb), "audio_corrupt");
    }

    #[test]
    fn an_mp4_sample_entry_shorter_than_its_fields_is_refused() {
        let short = include_bytes!("../../../fuzz/seeds/audio_decode/sample_entry_underflow.m4a");
        assert_eq!(code(short), "audio_corrupt");
    }

    #[test]
    fn an_mp4_track_with_a_time_scale_of_0_is_refused() {
        let zero = include_bytes!("../../../fuzz/seeds/audio_decode/zero_timescale.m4a");
        let error = decode(zero, &AudioLimits::default()).unwrap_err();
        assert_eq!(error.code, "audio_corrupt");
        assert!(
            error.message.contains("time scale of 0"),
            "{}",
            error.message
        );
    }

    #[test]
    fn an_mp4_sample_to_chunk_entry_naming_chunk_0_is_refused() {
        let zero = include_bytes!("../../../fuzz/seeds/audio_decode/stsc_chunk_zero.m4a");
        let error = decode(zero, &AudioLimits::default()).unwrap_err();
        assert_eq!(error.code, "audio_corrupt");
        assert!(error.message.contains("chunk 0"), "{}", error.message);
    }

    #[test]
    fn an_mp4_meta_box_shorter_than_its_header_fields_is_refused() {
        let short = include_bytes!("../../../fuzz/seeds/audio_decode/meta_underflow.m4a");
        assert_eq!(code(short), "audio_corrupt");
    }

    #[test]
    fn raw_adts_is_not_probed() {
        let adts = include_bytes!("../../../fuzz/seeds/audio_decode/adts_underflow");
        assert_eq!(code(adts), "media_unrecognized");
    }
}
