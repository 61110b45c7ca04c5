//! The vendor's brand, as far as it is pure rules: an accent colour and the text
//! colour that stays readable on it, and which images a logo may be.

use sha2::{Digest, Sha256};

/// The largest logo accepted: 256 KiB.
pub const MAX_LOGO_BYTES: usize = 256 * 1024;

/// An accent colour, `#rrggbb` (stored and shown in lower case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accent([u8; 3]);

impl Accent {
    /// `#rrggbb` only (either case); no names, no `#rgb`, no alpha.
    pub fn parse(input: &str) -> Option<Self> {
        let hex = input.strip_prefix('#')?;
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
        Some(Self([byte(0)?, byte(2)?, byte(4)?]))
    }

    pub fn css(self) -> String {
        let [r, g, b] = self.0;
        format!("#{r:02x}{g:02x}{b:02x}")
    }

    /// WCAG 2 relative luminance, 0 (black) to 1 (white).
    pub fn luminance(self) -> f64 {
        let channel = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.039_28 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        let [r, g, b] = self.0;
        0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
    }

    /// The text colour for text on this accent: black or white, whichever contrasts
    /// more. The better of the two is always at least 4.58:1 (the two are equal at
    /// luminance 0.179), so text on any accent meets WCAG AA (4.5:1).
    pub fn text_color(self) -> TextColor {
        let l = self.luminance();
        if contrast(l, 0.0) >= contrast(l, 1.0) {
            TextColor::Black
        } else {
            TextColor::White
        }
    }
}

/// WCAG contrast ratio between two relative luminances.
pub fn contrast(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    (hi + 0.05) / (lo + 0.05)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextColor {
    Black,
    White,
}

impl TextColor {
    pub fn css(self) -> &'static str {
        match self {
            Self::Black => "#000000",
            Self::White => "#ffffff",
        }
    }

    pub fn luminance(self) -> f64 {
        match self {
            Self::Black => 0.0,
            Self::White => 1.0,
        }
    }
}

/// The image type of a logo by its first bytes: `image/png`, `image/jpeg` or
/// `image/webp`, else `None` (SVG included: same-origin SVG can carry script).
pub fn sniff_logo(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// What goes into the logo's URL: hex SHA-256 of its bytes, first 16 digits.
pub fn logo_hash(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rrggbb_is_an_accent() {
        assert_eq!(
            Accent::parse("#1F5FBF").map(Accent::css),
            Some("#1f5fbf".into())
        );
        for bad in [
            "1f5fbf",
            "#fff",
            "#1f5fbf00",
            "red",
            "#1f5fbg",
            "",
            "#",
            " #1f5fbf",
            "#+1+2+3",
        ] {
            assert_eq!(Accent::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn text_on_any_accent_meets_wcag_aa() {
        assert_eq!(
            Accent::parse("#ffffff").expect("accent").text_color(),
            TextColor::Black
        );
        assert_eq!(
            Accent::parse("#000000").expect("accent").text_color(),
            TextColor::White
        );
        assert_eq!(
            Accent::parse("#1f5fbf").expect("accent").text_color(),
            TextColor::White
        );
        assert_eq!(
            Accent::parse("#ffcc00").expect("accent").text_color(),
            TextColor::Black
        );
        // Every 5th step of every channel: the chosen text colour is at least 4.5:1.
        for r in (0..=255u8).step_by(5) {
            for g in (0..=255u8).step_by(5) {
                for b in (0..=255u8).step_by(5) {
                    let accent = Accent([r, g, b]);
                    let ratio = contrast(accent.luminance(), accent.text_color().luminance());
                    assert!(ratio >= 4.5, "{} gives {ratio}", accent.css());
                }
            }
        }
    }

    #[test]
    fn logos_are_known_by_their_magic_bytes() {
        assert_eq!(sniff_logo(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff_logo(&[0xff, 0xd8, 0xff, 0xe0]), Some("image/jpeg"));
        assert_eq!(sniff_logo(b"RIFF\x10\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(
            sniff_logo(b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
            None
        );
        assert_eq!(sniff_logo(b"<?xml version='1.0'?><svg/>"), None);
        assert_eq!(sniff_logo(b"GIF89a"), None);
        assert_eq!(sniff_logo(b""), None);
        assert_eq!(logo_hash(b"x").len(), 16);
    }
}
