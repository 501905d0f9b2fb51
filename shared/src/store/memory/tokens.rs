//! Codes, refresh tokens with their grants, and revocations, in memory.

use super::*;

#[async_trait]
impl CodeStore for MemoryStore {
    async fn put_code(&self, code: &AuthorizationCodeRecord) -> Result<(), StoreError> {
        let mut t = self.lock()?;
        if t.codes.contains_key(&code.code_hash) {
            return Err(StoreError::Conflict);
        }
        t.codes.insert(code.code_hash.clone(), code.clone());
        Ok(())
    }

    async fn take_code(
        &self,
        code_hash: &TokenHash,
        now: u64,
    ) -> Result<Option<AuthorizationCodeRecord>, StoreError> {
        Ok(self
            .lock()?
            .codes
            .remove(code_hash)
            .filter(|c| c.expires_at > now))
    }

    async fn put_redeemed_code(&self, redeemed: &RedeemedCode) -> Result<(), StoreError> {
        self.lock()?
            .redeemed_codes
            .insert(redeemed.code_hash.clone(), redeemed.clone());
        Ok(())
    }

    async fn redeemed_code(
        &self,
        code_hash: &TokenHash,
        now: u64,
    ) -> Result<Option<RedeemedCode>, StoreError> {
        Ok(self
            .lock()?
            .redeemed_codes
            .get(code_hash)
            .filter(|r| r.expires_at > now)
            .cloned())
    }
}

#[async_trait]
impl RefreshTokenStore for MemoryStore {
    async fn put_refresh_token(&self, token: &RefreshTokenRecord) -> Result<(), StoreError> {
        let mut t = self.lock()?;
        if t.refresh_tokens.contains_key(&token.token_hash) {
            return Err(StoreError::Conflict);
        }
        t.refresh_tokens
            .insert(token.token_hash.clone(), token.clone());
        Ok(())
    }

    async fn refresh_token(
        &self,
        token_hash: &TokenHash,
    ) -> Result<Option<RefreshTokenRecord>, StoreError> {
        Ok(self.lock()?.refresh_tokens.get(token_hash).cloned())
    }

    async fn mark_rotated(
        &self,
        token_hash: &TokenHash,
        now: u64,
        successor: &TokenHash,
    ) -> Result<(), StoreError> {
        let mut t = self.lock()?;
        match t.refresh_tokens.get_mut(token_hash) {
            Some(token) if token.rotated_at.is_none() => {
                token.rotated_at = Some(now);
                token.replaced_by = Some(successor.clone());
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }

    async fn retry_rotated(
        &self,
        token_hash: &TokenHash,
        rotated_since: u64,
        max_retries: u32,
    ) -> Result<(), StoreError> {
        let mut t = self.lock()?;
        match t.refresh_tokens.get_mut(token_hash) {
            Some(token)
                if token.rotated_at.is_some_and(|at| at >= rotated_since)
                    && token.grace_retries < max_retries
                    && token.successor_used_at.is_none() =>
            {
                token.grace_retries += 1;
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }

    async fn mark_successor_used(
        &self,
        token_hash: &TokenHash,
        now: u64,
    ) -> Result<(), StoreError> {
        let mut t = self.lock()?;
        if let Some(token) = t.refresh_tokens.get_mut(token_hash) {
            token.successor_used_at.get_or_insert(now);
        }
        Ok(())
    }

    async fn put_grant(&self, grant: &GrantRecord, ended: &[FamilyId]) -> Result<(), StoreError> {
        let mut t = self.lock()?;
        let grants = t.grants.entry(grant.user_id.clone()).or_default();
        for id in ended {
            grants.remove(id);
        }
        grants.insert(grant.grant_id.clone(), grant.clone());
        Ok(())
    }

    async fn grants(&self, user_id: &UserId) -> Result<Vec<GrantRecord>, StoreError> {
        let t = self.lock()?;
        let mut grants: Vec<GrantRecord> = t
            .grants
            .get(user_id)
            .into_iter()
            .flat_map(|g| g.values())
            .cloned()
            .collect();
        grants.sort_by(|a, b| (a.created_at, &a.grant_id).cmp(&(b.created_at, &b.grant_id)));
        Ok(grants)
    }

    async fn touch_grant(
        &self,
        user_id: &UserId,
        grant_id: &FamilyId,
        now: u64,
    ) -> Result<(), StoreError> {
        let mut t = self.lock()?;
        if let Some(grant) = t.grants.get_mut(user_id).and_then(|g| g.get_mut(grant_id)) {
            grant.last_used_at = now;
        }
        Ok(())
    }

    async fn remove_grant(&self, user_id: &UserId, grant_id: &FamilyId) -> Result<(), StoreError> {
        let mut t = self.lock()?;
        if let Some(grants) = t.grants.get_mut(user_id) {
            grants.remove(grant_id);
        }
        Ok(())
    }
}

#[async_trait]
impl RevocationStore for MemoryStore {
    async fn revoke(&self, key: &str, expires_at: u64) -> Result<(), StoreError> {
        let mut t = self.lock()?;
        let entry = t.revocations.entry(key.to_owned()).or_insert(expires_at);
        *entry = (*entry).max(expires_at);
        Ok(())
    }

    async fn is_revoked(&self, key: &str, now: u64) -> Result<bool, StoreError> {
        Ok(self
            .lock()?
            .revocations
            .get(key)
            .is_some_and(|until| *until > now))
    }

    async fn any_revoked(&self, keys: &[String], now: u64) -> Result<bool, StoreError> {
        let t = self.lock()?;
        Ok(keys
            .iter()
            .any(|key| t.revocations.get(key).is_some_and(|until| *until > now)))
    }

    async fn use_once(&self, key: &str, expires_at: u64, now: u64) -> Result<bool, StoreError> {
        let mut t = self.lock()?;
        if t.revocations.get(key).is_some_and(|until| *until > now) {
            return Ok(false);
        }
        t.revocations.insert(key.to_owned(), expires_at);
        Ok(true)
    }
}
