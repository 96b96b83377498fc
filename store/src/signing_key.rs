//! The bureau's signing key, kept in the database so that every instance
//! signs with the same one and nobody has to place a key file on each.
//! Whoever holds the database could also change what it signs, so the key
//! there adds no new trust: it proves to a recipient that a file left the
//! bureau's system unchanged, not that the system is honest.

use super::{Store, StoreError, now};

impl Store {
    /// The stored seed; `fresh` becomes it when there is none yet (the
    /// first caller on any instance wins, the others read its seed).
    pub async fn signing_key_seed(&self, fresh: [u8; 32]) -> Result<[u8; 32], StoreError> {
        if let Some(seed) = self.stored_seed().await? {
            return Ok(seed);
        }
        {
            let _writer = self.writer().await;
            sqlx::query(
                "INSERT INTO signing_key (id, seed, created_at) VALUES (1, $1, $2) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(hex::encode(fresh))
            .bind(now())
            .execute(&self.pool)
            .await?;
        }
        self.stored_seed()
            .await?
            .ok_or_else(|| StoreError::Conflict("签名密钥未能保存 (signing key not stored)".into()))
    }

    async fn stored_seed(&self) -> Result<Option<[u8; 32]>, StoreError> {
        let row: Option<(String,)> = sqlx::query_as("SELECT seed FROM signing_key WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        row.map(|(hex_seed,)| {
            let bytes = hex::decode(&hex_seed).map_err(super::corrupt)?;
            <[u8; 32]>::try_from(bytes.as_slice())
                .map_err(|_| super::corrupt("signing key seed is not 32 bytes"))
        })
        .transpose()
    }
}
