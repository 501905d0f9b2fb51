//! `--name value` command-line flags, for the repository's small commands (`alta-admin`,
//! `alta-stack`). A flag may repeat; errors name the command's usage.

pub struct Flags {
    pairs: Vec<(String, String)>,
    usage: &'static str,
}

impl Flags {
    pub fn parse(args: &[String], usage: &'static str) -> Result<Self, String> {
        Self::parse_with_switches(args, &[], usage)
    }

    /// As `parse`, where the flags named in `switches` take no value (`--button`).
    pub fn parse_with_switches(
        args: &[String],
        switches: &[&str],
        usage: &'static str,
    ) -> Result<Self, String> {
        let mut pairs = Vec::new();
        let mut iter = args.iter();
        while let Some(flag) = iter.next() {
            let name = flag
                .strip_prefix("--")
                .ok_or_else(|| format!("unexpected argument `{flag}`\n{usage}"))?;
            if switches.contains(&name) {
                pairs.push((name.to_owned(), String::new()));
                continue;
            }
            let value = iter
                .next()
                .ok_or_else(|| format!("--{name} needs a value"))?;
            pairs.push((name.to_owned(), value.clone()));
        }
        Ok(Self { pairs, usage })
    }

    /// Whether a switch was given.
    pub fn switch(&self, name: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == name)
    }

    /// Refuses any flag not in `known`.
    pub fn only(self, known: &[&str]) -> Result<Self, String> {
        match self
            .pairs
            .iter()
            .find(|(k, _)| !known.contains(&k.as_str()))
        {
            Some((unknown, _)) => Err(format!("unknown option --{unknown}\n{}", self.usage)),
            None => Ok(self),
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn require(&self, name: &str) -> Result<&str, String> {
        self.get(name)
            .ok_or_else(|| format!("--{name} is required\n{}", self.usage))
    }

    pub fn get_or<'a>(&'a self, name: &str, default: &'a str) -> &'a str {
        self.get(name).unwrap_or(default)
    }

    pub fn number(&self, name: &str, default: u64) -> Result<u64, String> {
        self.get(name).map_or(Ok(default), |v| {
            v.parse().map_err(|_| format!("--{name} takes a number"))
        })
    }

    pub fn all(&self, name: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(raw: &[&str]) -> Vec<String> {
        raw.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_take_values_and_may_repeat() {
        let flags = Flags::parse(
            &args(&["--inbox", "a", "--role", "Admin", "--inbox", "b"]),
            "usage",
        )
        .unwrap();
        assert_eq!(flags.all("inbox"), ["a", "b"]);
        assert_eq!(flags.require("role").unwrap(), "Admin");
        assert!(flags.require("email").unwrap_err().contains("usage"));
    }

    #[test]
    fn switches_take_no_value() {
        let flags = Flags::parse_with_switches(
            &args(&["--button", "--id", "okta", "--none"]),
            &["button", "none"],
            "usage",
        )
        .unwrap();
        assert!(flags.switch("button") && flags.switch("none"));
        assert!(!flags.switch("id-jag"));
        assert_eq!(flags.require("id").unwrap(), "okta");
    }

    #[test]
    fn stray_words_missing_values_and_unknown_flags_are_refused() {
        assert!(Flags::parse(&args(&["oops"]), "u").is_err());
        assert!(Flags::parse(&args(&["--port"]), "u").is_err());
        let flags = Flags::parse(&args(&["--prot", "1"]), "u").unwrap();
        assert!(flags.only(&["port"]).is_err());
        let flags = Flags::parse(&args(&["--port", "x"]), "u").unwrap();
        assert!(flags.number("port", 1).is_err());
    }
}
