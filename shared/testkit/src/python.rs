//! The Python interpreter that tests checking against independent Python
//! implementations run (the bus's CloudEvents clients, the graph's networkx).

/// The interpreter to run (`SIX_PYTHON`, else `python3`), after checking that it
/// can import every module of `imports`; fails the test otherwise, saying how to
/// install them from `requirements` (a path from the repository root).
pub async fn python_with(imports: &[&str], requirements: &str) -> String {
    let python = std::env::var("SIX_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let check = tokio::process::Command::new(&python)
        .args(["-c", &format!("import {}", imports.join(", "))])
        .output()
        .await
        .unwrap_or_else(|error| {
            panic!("`{python}` cannot be run ({error}): install Python 3, or set SIX_PYTHON")
        });
    assert!(
        check.status.success(),
        "Python modules the test checks against are missing ({}): run \
         `python3 -m pip install -r {requirements}`\n{}",
        imports.join(", "),
        String::from_utf8_lossy(&check.stderr)
    );
    python
}
