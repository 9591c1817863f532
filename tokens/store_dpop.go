package tokens

import (
	"context"
	"time"

	"gorm.io/gorm/clause"

	"idp/db"
)

// proofRow is a DPoP proof already used at one of idp's endpoints.
type proofRow struct {
	ProofHash string    `gorm:"column:proof_hash;primaryKey"`
	ExpiresAt time.Time `gorm:"column:expires_at"`
}

func (proofRow) TableName() string { return "dpop_proofs" }

// ClaimProof records a DPoP proof (by key, dpop.Proof.ReplayKey) until it
// would be stale anyway and reports whether it is new. The primary key is
// the lock: of any number of replicas seeing one proof, exactly one
// inserts it (RFC 9449 §11.1). ON CONFLICT DO NOTHING, not a failed
// insert, so a PostgreSQL transaction around it survives a replay. A row
// outlives its proof's validity (until is iat plus the window, after which
// dpop.Verify refuses the proof as stale), so the purge may drop it then.
func (s *Store) ClaimProof(ctx context.Context, key string, until time.Time) (bool, error) {
	res := db.Conn(ctx, s.g).Clauses(clause.OnConflict{DoNothing: true}).Create(&proofRow{ProofHash: key, ExpiresAt: until.UTC()})
	return res.RowsAffected == 1, db.Map(res.Error)
}

// purgeProofs forgets up to limit proofs stale at now.
func (s *Store) purgeProofs(ctx context.Context, now time.Time, limit int) (int64, error) {
	return db.DeleteBatch(ctx, s.g, &proofRow{}, "proof_hash", limit, "expires_at <= ?", now.UTC())
}
