//! The schema version in `meta`, and the migrations that bring an older store up to date.

use super::StoreError;
use super::layout::SCHEMA_VERSION_KEY;

/// The layout this build writes (the module docs of `store` describe it).
pub const SCHEMA_VERSION: u32 = 4;

/// One step: rewrites a store of version `i` into version `i + 1`, where `i` is the step's
/// index in the table. Runs at open, before anything else reads the store.
pub(crate) type Migration = fn(&sled::Db) -> Result<(), StoreError>;

/// `MIGRATIONS[i]` upgrades version `i` to `i + 1`; the table has `SCHEMA_VERSION` entries.
/// Version 0 is a store written before `meta` held a version: the same layout as version 1,
/// so its step changes nothing (the counters are rebuilt at open when missing). Version 2 adds
/// the `journal` tree, which open creates (empty for a version 1 store); the version is raised
/// so that a build that does not replay the journal refuses the store instead of missing
/// writes that are only there. Version 3 moves the journal into segment files
/// (`<store>/journal/`): the step applies what the version 2 tree still holds and drops it,
/// and the raised version keeps a version 2 build from missing writes only in those files.
/// Version 4 writes journal records that name their segment (segments are reused): version 3
/// records are still read, so the step changes nothing, and the raised version keeps a
/// version 3 build, which would call the new records damaged, away from the store.
pub(crate) const MIGRATIONS: &[Migration] = &[
    from_unversioned,
    add_journal,
    journal_to_files,
    records_name_their_segment,
];

const _: () = assert!(MIGRATIONS.len() == SCHEMA_VERSION as usize);

fn from_unversioned(_: &sled::Db) -> Result<(), StoreError> {
    Ok(())
}

fn add_journal(_: &sled::Db) -> Result<(), StoreError> {
    Ok(())
}

fn journal_to_files(db: &sled::Db) -> Result<(), StoreError> {
    super::journal::replay_tree(db)
}

fn records_name_their_segment(_: &sled::Db) -> Result<(), StoreError> {
    Ok(())
}

/// Brings the store to `SCHEMA_VERSION`, or refuses one that is newer. A new (empty) store gets
/// the current version.
pub(crate) fn check(
    db: &sled::Db,
    meta: &sled::Tree,
    migrations: &[Migration],
) -> Result<(), StoreError> {
    let found = match meta.get(SCHEMA_VERSION_KEY)? {
        None => {
            write(meta, SCHEMA_VERSION)?;
            return Ok(());
        }
        Some(v) => {
            let bytes: [u8; 4] = v.as_ref().try_into().map_err(|_| StoreError::Encoding {
                tree: super::layout::tree::META,
                detail: format!("schema_version of {} octets, expected 4", v.len()),
            })?;
            u32::from_be_bytes(bytes)
        }
    };
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for version in found..SCHEMA_VERSION {
        let step = migrations
            .get(version as usize)
            .expect("MIGRATIONS has one step per version below SCHEMA_VERSION");
        tracing::info!(from = version, to = version + 1, "migrating the store");
        step(db)?;
        // Each step is recorded as it completes, so an interrupted migration resumes there.
        write(meta, version + 1)?;
        db.flush()?;
    }
    Ok(())
}

pub(crate) fn write(meta: &sled::Tree, version: u32) -> Result<(), StoreError> {
    meta.insert(SCHEMA_VERSION_KEY, &version.to_be_bytes())?;
    Ok(())
}
