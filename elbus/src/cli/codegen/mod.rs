//! `rpc codegen`: source code generated from a typed service's `rpc.describe` schema, taken
//! from the live service or from a file saved with `rpc describe --json`.

mod py_types;
mod python;

use std::path::Path;

use crate::cli::error::{CliError, Failure};

/// The largest schema file `--schema` reads (a schema is a few KiB; a bigger file is a mistake).
pub(crate) const MAX_SCHEMA_FILE: u64 = 16 << 20;

/// Reads a schema saved with `rpc describe --json`.
pub(crate) fn read_schema_file(path: &Path) -> Result<serde_json::Value, CliError> {
    let what = format!("reading the schema {}", path.display());
    let metadata = std::fs::metadata(path).map_err(|err| CliError::io(&what, &err))?;
    if metadata.len() > MAX_SCHEMA_FILE {
        return Err(CliError::usage(format!(
            "{what}: larger than {} MiB, not an rpc.describe schema",
            MAX_SCHEMA_FILE >> 20
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|err| CliError::io(&what, &err))?;
    serde_json::from_str(&text).map_err(|err| CliError::usage(format!("{what}: not JSON ({err})")))
}

/// The Python module for `schema`, whose clients default to `target`.
pub(crate) fn python(schema: &serde_json::Value, target: &str) -> Result<String, CliError> {
    python::python_module(schema, target)
        .map_err(|reason| CliError::new(Failure::Other, format!("codegen for {target}: {reason}")))
}
