package resources

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"idp/db"
)

// Store is the resources table.
type Store struct{ gdb *gorm.DB }

// NewStore returns a Store over g.
func NewStore(g *gorm.DB) *Store { return &Store{gdb: g} }

// resourceRow is the resources table as in migrations/*/00015_resources.sql.
type resourceRow struct {
	URI        string    `gorm:"column:uri;primaryKey"`
	Name       string    `gorm:"column:name"`
	Scopes     string    `gorm:"column:scopes"`
	SecretHash []byte    `gorm:"column:secret_hash"`
	SigningAlg string    `gorm:"column:signing_alg"`
	TTLSeconds int64     `gorm:"column:access_token_ttl_seconds"`
	CreatedAt  time.Time `gorm:"column:created_at"`
	UpdatedAt  time.Time `gorm:"column:updated_at"`
}

func (resourceRow) TableName() string { return "resources" }

func toRow(r *Resource) (resourceRow, error) {
	scopes := r.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	b, err := json.Marshal(scopes)
	return resourceRow{URI: r.URI, Name: r.Name, Scopes: string(b), SecretHash: r.SecretHash, SigningAlg: r.SigningAlg,
		TTLSeconds: int64(r.AccessTokenTTL / time.Second), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}, err
}

func (row *resourceRow) resource() (*Resource, error) {
	r := &Resource{URI: row.URI, Name: row.Name, SecretHash: row.SecretHash, SigningAlg: row.SigningAlg,
		AccessTokenTTL: time.Duration(row.TTLSeconds) * time.Second, CreatedAt: row.CreatedAt.UTC(), UpdatedAt: row.UpdatedAt.UTC()}
	if len(r.SecretHash) == 0 {
		r.SecretHash = nil
	}
	if err := json.Unmarshal([]byte(row.Scopes), &r.Scopes); err != nil {
		return nil, fmt.Errorf("decode resource %q: %w", row.URI, err)
	}
	return r, nil
}

func (s *Store) create(ctx context.Context, r *Resource) error {
	row, err := toRow(r)
	if err != nil {
		return err
	}
	if err := db.Conn(ctx, s.gdb).Create(&row).Error; err != nil {
		return fmt.Errorf("create resource %q: %w", r.URI, db.Map(err))
	}
	return nil
}

func (s *Store) update(ctx context.Context, r *Resource) error {
	row, err := toRow(r)
	if err != nil {
		return err
	}
	res := db.Conn(ctx, s.gdb).Model(&resourceRow{}).Where("uri = ?", r.URI).Select("*").Omit("uri", "created_at").Updates(&row)
	if res.Error != nil {
		return fmt.Errorf("update resource %q: %w", r.URI, db.Map(res.Error))
	}
	if res.RowsAffected == 0 {
		return notFound(r.URI)
	}
	return nil
}

func (s *Store) setSecret(ctx context.Context, uri string, hash []byte, at time.Time) error {
	res := db.Conn(ctx, s.gdb).Model(&resourceRow{}).Where("uri = ?", uri).
		Updates(map[string]any{"secret_hash": hash, "updated_at": at.UTC()})
	if res.Error != nil {
		return fmt.Errorf("set secret of resource %q: %w", uri, db.Map(res.Error))
	}
	if res.RowsAffected == 0 {
		return notFound(uri)
	}
	return nil
}

func notFound(uri string) error {
	return tagged{fmt.Errorf("resource %q: %w", uri, ErrUnknown), []error{db.ErrNotFound}}
}

// ByURI returns one resource, or an error matching ErrUnknown.
func (s *Store) ByURI(ctx context.Context, uri string) (*Resource, error) {
	var row resourceRow
	err := db.Conn(ctx, s.gdb).Where("uri = ?", uri).Take(&row).Error
	if err != nil {
		err = db.Map(err)
		if errors.Is(err, db.ErrNotFound) {
			return nil, notFound(uri)
		}
		return nil, fmt.Errorf("resource %q: %w", uri, err)
	}
	return row.resource()
}

// policyOf reads what a resource asks of its tokens (Scopes: the ones it
// declares); it is on every token request for a resource, so it scans
// three columns by hand rather than through GORM's reflection. An
// unregistered uri is db.ErrNotFound.
func (s *Store) policyOf(ctx context.Context, uri string) (Policy, error) {
	var p Policy
	var secs int64
	var scopes string
	err := db.QueryRow(ctx, s.gdb, `SELECT signing_alg, access_token_ttl_seconds, scopes FROM resources WHERE uri = ?`, uri).
		Scan(&p.SigningAlg, &secs, &scopes)
	if err != nil {
		return Policy{}, fmt.Errorf("resource %q: %w", uri, db.ScanErr(s.gdb, err))
	}
	if err := json.Unmarshal([]byte(scopes), &p.Scopes); err != nil {
		return Policy{}, fmt.Errorf("decode resource %q: %w", uri, err)
	}
	p.TTL = time.Duration(secs) * time.Second
	return p, nil
}

// List returns every resource in byte order of URI.
func (s *Store) List(ctx context.Context) ([]Resource, error) {
	var rows []resourceRow
	if err := db.Conn(ctx, s.gdb).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list resources: %w", db.Map(err))
	}
	out := make([]Resource, 0, len(rows))
	for i := range rows {
		r, err := rows[i].resource()
		if err != nil {
			return nil, err
		}
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b Resource) int { return strings.Compare(a.URI, b.URI) })
	return out, nil
}

// Delete removes a resource, or returns an error matching ErrUnknown.
func (s *Store) Delete(ctx context.Context, uri string) error {
	res := db.Conn(ctx, s.gdb).Where("uri = ?", uri).Delete(&resourceRow{})
	if res.Error != nil {
		return fmt.Errorf("delete resource %q: %w", uri, db.Map(res.Error))
	}
	if res.RowsAffected == 0 {
		return notFound(uri)
	}
	return nil
}
