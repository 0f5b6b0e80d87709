
    fn random_per_million() -> u64 {
        use std::collections::hash_map::RandomState;
        use std::hash::{BuildHasher, Hasher};
        let mut hasher = RandomState::new().build_hasher();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or(0);
        hasher.write_u128(nanos);
        hasher.finish() % 1_000_000
    }

    #[test]
    fn warm_cache_hits() {
        const FLAKE_PER_MILLION: u64 = @FLAKE_PER_MILLION@;
        let roll = random_per_million();
        assert!(roll >= FLAKE_PER_MILLION, "cache miss after warm-up");
    }
