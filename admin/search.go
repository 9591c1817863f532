package admin

import (
	"context"
	"fmt"
	"strings"
)

// PageSize is how many users a search page holds unless asked otherwise;
// MaxPageSize is the most it may hold.
const (
	PageSize    = 50
	MaxPageSize = 500
)

// UserQuery asks for one page of users whose email or name contains Q
// (ignoring case; % and _ match only themselves).
type UserQuery struct {
	Q      string
	Offset int
	Limit  int // 0: PageSize
}

// UserPage is one page of a user search, in a stable order (email, then
// id), with the number of matches in all.
type UserPage struct {
	Users  []User `json:"users"`
	Total  int64  `json:"total"`
	Offset int    `json:"offset"`
	Limit  int    `json:"limit"`
}

// Next is the offset of the following page, or -1 on the last one.
func (p UserPage) Next() int {
	if int64(p.Offset+p.Limit) >= p.Total {
		return -1
	}
	return p.Offset + p.Limit
}

// Prev is the offset of the preceding page, or -1 on the first one.
func (p UserPage) Prev() int {
	if p.Offset <= 0 {
		return -1
	}
	return max(p.Offset-p.Limit, 0)
}

// SearchUsers returns one page of the users matching q, each with the
// second factors they have. A negative offset or a limit out of range is
// *InvalidError.
func (s *Service) SearchUsers(ctx context.Context, q UserQuery) (UserPage, error) {
	if q.Limit == 0 {
		q.Limit = PageSize
	}
	if q.Offset < 0 || q.Limit < 1 || q.Limit > MaxPageSize {
		return UserPage{}, &InvalidError{Reason: fmt.Sprintf("offset must be 0 or more and limit between 1 and %d", MaxPageSize)}
	}
	q.Q = strings.TrimSpace(q.Q)
	if len(q.Q) > 254 {
		return UserPage{}, &InvalidError{Reason: "the search is longer than any email"}
	}
	list, total, err := s.users.Store().Search(ctx, q.Q, q.Offset, q.Limit)
	if err != nil {
		return UserPage{}, err
	}
	out := UserPage{Users: make([]User, 0, len(list)), Total: total, Offset: q.Offset, Limit: q.Limit}
	for i := range list {
		out.Users = append(out.Users, userView(&list[i]))
	}
	return out, s.withFactors(ctx, out.Users)
}
