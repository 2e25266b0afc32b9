variable "region" {
  type    = string
  default = "eu-west-1"
}

variable "env" {
  description = "Environment name, part of every resource name."
  type        = string
  default     = "dev"
}

variable "domain" {
  description = "The public hosted zone."
  type        = string
  default     = "roboshop.localhost"
}

variable "vpc_id" {
  type    = string
  default = "vpc-0123456789abcdef0"
}

variable "public_subnet_ids" {
  type    = list(string)
  default = ["subnet-0aaa", "subnet-0bbb"]
}

variable "services" {
  description = "Backend services behind the load balancer: path patterns and health checks."
  type = map(object({
    port          = number
    path_patterns = list(string)
    priority      = number
    health_path   = string
  }))
  default = {
    api = {
      port          = 8080
      path_patterns = ["/api/*"]
      priority      = 10
      health_path   = "/health"
    }
  }
}

variable "common_tags" {
  type = map(string)
  default = {
    Project   = "roboshop"
    ManagedBy = "terraform"
  }
}
