//! seawall's benches live in this package's bench targets (`cargo bench -p
//! seawall-benches`); the peer crates they compare against are its dev-dependencies
//! only, so that building seawall, its tests and its examples never compiles them.
