// Package throttle slows password guessing. It counts failed sign-ins per
// account-and-address and per address in the database (so every replica
// sees the same counts), and after a threshold answers "wait" with a delay
// that doubles with each further failure, up to a lock of a configured
// length. Only failures count: a success clears the account-and-address
// counter and is never itself delayed. Unknown, disabled and existing
// accounts are counted alike, so throttling reveals nothing about who has
// an account. It imports db only.
package throttle
