//! Fetched articles' text, cached per canonical URL.

use super::*;

impl Store {
    /// The cached article of a canonical URL: `Ok(text)`, or `Err(why)` when it has none for
    /// good (a 404, not a web page); `None` when it was never fetched.
    pub fn article(&self, url: &str) -> Result<Option<Result<String, String>>, StoreError> {
        self.read(|sql| {
            sql.query_row(
                "SELECT text, error FROM articles WHERE url = ?1",
                &db_params![url],
                |row| {
                    let text: Option<String> = row.get(0)?;
                    let error: Option<String> = row.get(1)?;
                    Ok(text.ok_or_else(|| error.unwrap_or_default()))
                },
            )
        })
    }

    /// Caches the final outcome of fetching a URL's article (its text, or why it has none
    /// for good). The first outcome stays: a page is fetched at most once.
    pub fn save_article(
        &mut self,
        url: &str,
        outcome: Result<&str, &str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (text, error) = match outcome {
            Ok(text) => (Some(text), None),
            Err(error) => (None, Some(error)),
        };
        self.read(|sql| {
            sql.execute(
                "INSERT INTO articles (url, fetched_at, text, error) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT DO NOTHING",
                &db_params![url, now.timestamp(), text, error],
            )
        })?;
        Ok(())
    }
}
