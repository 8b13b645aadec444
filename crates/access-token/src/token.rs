//! Token ids: 64 alphanumeric characters from the OS CSPRNG, stored as SHA-256 fingerprints.

const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Length of a token id (LoopBack's wire format).
pub const TOKEN_LENGTH: usize = 64;

/// A new token id: 64 characters of `[A-Za-z0-9]`, about 381 bits of entropy.
/// Bytes of 248 and above are rejected so every character is equally likely.
pub fn generate() -> Result<String, getrandom::Error> {
    let mut out = String::with_capacity(TOKEN_LENGTH);
    let mut buf = [0u8; 96];
    while out.len() < TOKEN_LENGTH {
        getrandom::fill(&mut buf)?;
        for &b in &buf {
            // 248 = 4 * 62: the largest multiple of 62 that fits a byte.
            if b < 248 && out.len() < TOKEN_LENGTH {
                out.push(char::from(ALPHABET[usize::from(b % 62)]));
            }
        }
    }
    Ok(out)
}

/// The stored form of a token: lowercase hex SHA-256.
pub fn fingerprint(token: &str) -> String {
    persisted_model::fingerprint(token)
}

/// Whether a value is already a fingerprint rather than a token.
pub fn is_fingerprint(value: &str) -> bool {
    value.len() == 64 && value.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_64_alphanumeric_and_distinct() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }

    #[test]
    fn characters_are_unbiased_enough() {
        let mut counts = [0usize; 62];
        for _ in 0..400 {
            for c in generate().unwrap().bytes() {
                counts[ALPHABET.iter().position(|&a| a == c).unwrap()] += 1;
            }
        }
        // 25,600 characters: each expected ~413; modulo bias would push A-H to ~516.
        assert!(counts.iter().all(|&n| (300..530).contains(&n)), "{counts:?}");
    }

    #[test]
    fn fingerprints_are_sha256_hex() {
        assert_eq!(fingerprint("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert!(is_fingerprint(&fingerprint("x")));
        assert!(!is_fingerprint(&generate().unwrap()));
    }
}
