//! Signing what the bureau sends to other systems (the national register's
//! manifest): Ed25519 with the bureau's one key (kept by the store, the
//! same on every instance), whose public half is published at
//! `/public/signing-key.pem` for recipients to check against.
//!
//! Why Ed25519 (`ed25519-dalek`): short keys and signatures, no parameters
//! to choose wrongly, and OpenSSL 3 checks it with one command, so a
//! recipient needs no software of ours.

use ed25519_dalek::pkcs8::EncodePublicKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::{Signer, SigningKey};

use super::ServiceResult;
use crate::oversight::register::{Manifest, ManifestSignature, VERIFY_STEPS};
use crate::store::Store;

/// The bureau's key, made on first use.
pub async fn bureau_key(store: &Store) -> ServiceResult<SigningKey> {
    let fresh: [u8; 32] = rand::random();
    let seed = store.signing_key_seed(fresh).await?;
    Ok(SigningKey::from_bytes(&seed))
}

/// The public half as PEM (SubjectPublicKeyInfo), as OpenSSL reads it.
pub async fn public_key_pem(store: &Store) -> ServiceResult<String> {
    let key = bureau_key(store).await?;
    key.verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| super::ServiceError::Internal(format!("public key PEM: {e}")))
}

/// `manifest` with the bureau's signature over its signed text.
pub async fn sign_manifest(store: &Store, mut manifest: Manifest) -> ServiceResult<Manifest> {
    let key = bureau_key(store).await?;
    let text = manifest.signed_text();
    let signature = key.sign(text.as_bytes());
    manifest.signature = Some(ManifestSignature {
        algorithm: "Ed25519",
        public_key: hex::encode(key.verifying_key().to_bytes()),
        signed_text: text,
        signature: hex::encode(signature.to_bytes()),
        verify: VERIFY_STEPS,
    });
    Ok(manifest)
}
