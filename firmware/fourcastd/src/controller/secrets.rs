//! Secrets between the outside and the store: sealed with the device key at rest, `***`
//! when read back, and `***` sent back means "keep the value the box has".

use std::collections::HashMap;

use fourcast_config::{Config, ConfigErrors, FieldError, Secret};
use fourcast_store::Vault;

/// Turns every sealed or `***` secret in `config` into its plain value: sealed ones are
/// opened with the device key, `***` takes the value the same destination has in
/// `current`. Errors name the field.
pub(crate) fn resolve(
    config: &mut Config,
    vault: &Vault,
    current: Option<&Config>,
) -> Result<(), ConfigErrors> {
    let known = current.map(known_values).unwrap_or_default();
    let mut errs = Vec::new();
    for s in config.secrets_mut() {
        if s.secret.is_sealed() {
            match vault.unseal(s.secret.expose()) {
                Ok(plain) => *s.secret = Secret::new(plain),
                Err(e) => errs.push(FieldError::new(&s.path, e.to_string())),
            }
        } else if s.secret.is_redacted() {
            match known.get(&(s.owner.clone(), field_of(&s.path))) {
                Some((target, plain)) if *target == s.target => {
                    *s.secret = Secret::new(plain.clone());
                }
                Some((target, _)) => errs.push(FieldError::new(
                    &s.path,
                    format!(
                        "\"{}\" now goes to {} instead of {target}: send the key or passphrase again (\"***\" keeps a stored one only for the same server)",
                        s.owner, s.target
                    ),
                )),
                None => errs.push(FieldError::new(
                    &s.path,
                    format!(
                        "\"***\" keeps the stored value, but \"{}\" has none: send the value",
                        s.owner
                    ),
                )),
            }
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(ConfigErrors(errs))
    }
}

/// The TOML kept in the store: every secret sealed.
pub(crate) fn sealed_toml(config: &Config, vault: &Vault) -> String {
    let mut sealed = config.clone();
    for s in sealed.secrets_mut() {
        if s.secret.is_plain() {
            *s.secret = Secret::new(vault.seal(s.secret.expose()));
        }
    }
    sealed.to_toml()
}

/// A stored revision back to a running config.
pub(crate) fn decode_stored(text: &str, vault: &Vault) -> Result<Config, ConfigErrors> {
    let mut c = Config::parse(text)?;
    resolve(&mut c, vault, None)?;
    c.validate()?;
    Ok(c)
}

fn field_of(path: &str) -> String {
    path.rsplit('.').next().unwrap_or(path).to_string()
}

/// (owner, field) → (where it is sent, the plain value).
fn known_values(c: &Config) -> HashMap<(String, String), (String, String)> {
    let mut c = c.clone();
    c.secrets_mut()
        .into_iter()
        .filter(|s| s.secret.is_plain())
        .map(|s| {
            let value = (s.target, s.secret.expose().to_string());
            ((s.owner, field_of(&s.path)), value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault() -> Vault {
        let dir = std::env::temp_dir().join(format!("fourcastd-secrets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Vault::open_or_create(&dir.join("device.key")).unwrap()
    }

    fn config(key: &str) -> Config {
        let base = fourcast_config::default_for_board("virtual")
            .unwrap()
            .to_toml();
        Config::parse(&format!(
            "{base}\n[[outputs.rtmp]]\nname = \"yt\"\nurl = \"rtmp://127.0.0.1/live\"\nkey = \"{key}\"\nrung = \"720p\"\n"
        ))
        .unwrap()
    }

    #[test]
    fn stored_text_is_sealed_and_decodes_back() {
        let v = vault();
        let c = config("live_key_42");
        let text = sealed_toml(&c, &v);
        assert!(!text.contains("live_key_42"), "{text}");
        assert!(text.contains("sealed:v1:"));
        assert_eq!(decode_stored(&text, &v).unwrap(), c);
    }

    #[test]
    fn redacted_means_keep_and_fails_when_there_is_nothing_to_keep() {
        let v = vault();
        let current = config("live_key_42");
        let mut sent_back = Config::parse(&current.to_toml()).unwrap();
        resolve(&mut sent_back, &v, Some(&current)).unwrap();
        assert_eq!(sent_back, current);
        let mut fresh = config("***");
        let e = resolve(&mut fresh, &v, None).unwrap_err();
        assert_eq!(e.0[0].path, "outputs.rtmp[0].key");
    }

    #[test]
    fn redacted_keeps_a_key_only_for_the_same_server() {
        let v = vault();
        let current = config("live_key_42");
        let mut redirected = Config::parse(&current.to_toml()).unwrap();
        redirected.outputs.rtmp[0].url = "rtmp://attacker.example/live".into();
        let e = resolve(&mut redirected, &v, Some(&current)).unwrap_err();
        assert_eq!(e.0[0].path, "outputs.rtmp[0].key");
        assert!(e.0[0].message.contains("attacker.example"), "{e}");
        assert!(!e.to_string().contains("live_key_42"), "{e}");
    }
}
